"""The month-end cashback's set-based credit tells ``points.changed`` for every account it
credited, as the ledger's door does for one account: on SQLite and PostgreSQL (where the
credit is one statement per account range), to two loopback receivers that check every
signature, each event once, with one event id for both."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.offers.support import in_this_month, make_offer, opt_in, this_month
from tests.support.shop import Shop, bearer, iso, line
from tests.support.webhook_receiver import Receiver, make_cert
from tests.webhooks.test_webhooks import Clock, log, register
from wallet import clock, db
from wallet import settings as settings_module
from wallet.ledger import reads as ledger_reads
from wallet.offers import service as offers
from wallet.offers import settlement
from wallet.platform import worker


@pytest.fixture
def receivers(tmp_path: Path, database: Any) -> Iterator[tuple[Receiver, Receiver]]:
    """Two systems on loopback (a CRM and an ERP), on two ports with one certificate."""
    cert, key = make_cert(tmp_path)
    settings_module.override(
        dataclasses.replace(
            settings_module.get(), webhooks_allow_private=True, webhooks_ca=str(cert)
        )
    )
    first, second = Receiver(cert, key), Receiver(cert, key)
    first.start()
    second.start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


async def settling_time(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The service's clock moved to three days after this month, when it is settled (the
    deliveries are due from then)."""
    moved = Clock(monkeypatch)
    _start, end = offers.month_bounds(this_month())
    moved.offset = end + timedelta(days=3) - clock.now()
    return moved


async def test_a_settled_month_tells_points_changed_for_every_account_it_credited(
    client, receivers, monkeypatch
):
    crm, erp = receivers
    shop = await Shop.open(client)
    offer = await make_offer(shop, categories=["grocery", "tobacco"])
    # Two shoppers reach the goal (no history: 5,000 ₽), one misses it, and one reaches it
    # owing points (a return found them spent): the door credits him and repays the debt.
    anna, boris, vera, oleg = [
        await shop.enrol(name) for name in ("Анна Смирнова", "Борис Петров", "Вера", "Олег")
    ]
    for shopper in (anna, boris, vera, oleg):
        await opt_in(shop, shopper, offer["id"])
    await shop.receipt(anna.card, "A1", [line(600_000)], at=in_this_month())
    await shop.receipt(boris.card, "B1", [line(900_000)], at=in_this_month())
    await shop.receipt(vera.card, "V1", [line(100_000)], at=in_this_month())
    await shop.receipt(oleg.card, "O1", [line(600_000)], at=in_this_month())
    await shop.receipt(oleg.card, "O2", [line(40_000)], redeem=300, at=in_this_month())
    returned = await client.post(
        "/api/v1/pos/receipts/O1/returns",
        json={"return_id": "RET-O1", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert returned.json()["debt_after"] == 295
    await shop.receipt(oleg.card, "O3", [line(600_000, "tobacco")], at=in_this_month())
    await worker.run_until_idle()
    before = {s.account_id: await shop.me(s) for s in (anna, boris, vera, oleg)}

    # An endpoint that did not ask for points.changed gets no delivery of it (registered
    # first: the receiver checks signatures with the secret of the last one registered).
    receipts_only = await register(shop, crm, ["receipt.posted"])
    await register(shop, crm, ["points.changed"])
    await register(shop, erp, ["points.changed", "cashback.settled"])
    month = this_month()
    moved = await settling_time(monkeypatch)
    report = await settlement.settle_month(month, now=clock.now())
    assert (report.reached, report.missed) == (3, 1)
    await moved.run()
    await settlement.settle_month(month, now=clock.now() + timedelta(hours=1))  # a rerun
    await moved.run(3600)

    assert await log(shop, receipts_only) == []
    told_erp = [r for r in erp.received if r.event_type == "points.changed"]
    told_crm = crm.received
    assert all(r.signature_ok for r in erp.received + crm.received)
    assert [r.event_type for r in told_crm] == ["points.changed"] * 3
    # One event per credited account, the same id to both systems, none for the miss.
    by_account = {r.body["data"]["account_id"]: r for r in told_erp}
    assert sorted(by_account) == sorted([anna.account_id, boris.account_id, oleg.account_id])
    assert len(told_erp) == 3
    assert sorted(r.event_id for r in told_crm) == sorted(r.event_id for r in told_erp)
    for r in told_erp:
        assert r.body["id"] == r.event_id and r.body["type"] == "points.changed"
        assert set(r.body) == {"id", "type", "created_at", "data"}
    for shopper, reward in ((anna, 120), (boris, 180)):
        me = await shop.me(shopper)
        assert by_account[shopper.account_id].body["data"] == {
            "account_id": shopper.account_id,
            "balance": me["balance"],
            "pending": me["pending"],
            "debt": 0,
            "balance_change": reward,
            "pending_change": 0,
            "debt_change": 0,
        }
        assert me["balance"] == before[shopper.account_id]["balance"] + reward
    # Oleg's 122 points went through the door: they repaid his debt, and it said so.
    owed = by_account[oleg.account_id].body["data"]
    assert owed["debt"] == 295 - 122 and owed["debt_change"] == -122
    assert owed["balance_change"] == 0
    for shopper in (anna, boris, vera, oleg):
        assert await ledger_reads.reconcile(shopper.account_id, now=clock.now()) == []


async def test_nobody_listening_means_the_settlement_writes_no_delivery(
    client, receivers, monkeypatch
):
    crm, _erp = receivers
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    anna = await shop.enrol("Анна Смирнова")
    await opt_in(shop, anna, offer["id"])
    await shop.receipt(anna.card, "A1", [line(600_000)], at=in_this_month())
    webhook_id = await register(shop, crm, ["cashback.settled"])
    month = this_month()
    moved = await settling_time(monkeypatch)
    report = await settlement.settle_month(month, now=clock.now())
    assert report.points == 120
    rows = await db.fetch("SELECT event_type FROM webhook_delivery")
    assert rows == []  # cashback.settled comes with the outcome email, not before
    await moved.run()
    await moved.run(1)  # the delivery the outcome job queued
    assert [d["event_type"] for d in await log(shop, webhook_id)] == ["cashback.settled"]
    assert [r.event_type for r in crm.received] == ["cashback.settled"]
