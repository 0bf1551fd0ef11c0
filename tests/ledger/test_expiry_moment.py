"""Points expire at their expiry instant, not a moment later: at exactly ``expires_at``
they can no longer be spent, and the sweep burns them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.shop import Shop, Shopper, bearer, line
from wallet import clock, db
from wallet.errors import RedemptionNotAllowed
from wallet.ledger import service as ledger
from wallet.ledger.tables import Account
from wallet.receipts import service as receipts
from wallet.receipts.schemas import LineIn, ReceiptIn
from wallet.stores import service as stores


async def _stored(account_id: int) -> dict:
    """The account's totals as the ledger saved them (no clock settled on read)."""
    row = (
        await Account.select(Account.balance, Account.pending)
        .where(Account.id == account_id)
        .first()
    )
    assert row is not None
    return row


async def _goodwill(shopper: Shopper, points: int, *, now: datetime) -> datetime:
    async with db.write_transaction():
        adjusted = await ledger.adjust(
            shopper.account_id, points, reason="goodwill", actor="test", now=now
        )
    assert adjusted.expires_at is not None
    return adjusted.expires_at


async def _redeem(shopper: Shopper, receipt_id: str, points: int, *, now: datetime) -> int:
    store = await stores.get_store("MSK-001")
    data = ReceiptIn(
        receipt_id=receipt_id,
        card_number=shopper.card,
        occurred_at=now - timedelta(minutes=1),
        lines=[LineIn(sku="SKU-1", category="grocery", quantity=1, amount=1_000_000)],
        redeem_points=points,
    )
    reply = await receipts.post_receipt(data, store_id=store.id, actor="pos", now=now)
    return reply.redeemed_points


async def test_points_cannot_be_spent_at_the_instant_they_expire(client):
    shop = await Shop.open(client)
    late = await shop.enrol("Лев Опоздавший")
    early = await shop.enrol("Ева Успевшая")
    granted = clock.now()
    expires_at = await _goodwill(late, 100, now=granted)
    assert await _goodwill(early, 100, now=granted) == expires_at

    # A microsecond before the instant they still pay; at the instant they are gone.
    assert await _redeem(early, "JUST-IN-TIME", 100, now=expires_at - timedelta(microseconds=1))
    with pytest.raises(RedemptionNotAllowed) as refused:
        await _redeem(late, "AT-EXPIRY", 100, now=expires_at)
    assert refused.value.details["cap"] == 0


async def test_the_sweep_at_the_expiry_instant_burns_the_points(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol("Вера Точная")
    expires_at = await _goodwill(shopper, 70, now=clock.now())

    assert await ledger.expire_due(now=expires_at - timedelta(microseconds=1)) == 0
    assert await ledger.expire_due(now=expires_at) == 1
    assert (await _stored(shopper.account_id))["balance"] == 0
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    assert [(i["kind"], i["points"]) for i in history.json()["items"]][:1] == [("expire", -70)]


async def test_spending_skips_a_lot_at_its_expiry_instant_even_before_the_sweep(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol("Глеб Двойной")
    granted = clock.now()
    first_expiry = await _goodwill(shopper, 100, now=granted)
    await _goodwill(shopper, 100, now=granted + timedelta(days=1))

    async with db.write_transaction(), ledger.account(shopper.account_id, now=first_expiry) as book:
        taken = await book.spend(100, kind="redeem", reason="test")
    # Oldest-expiring first, but never the lot whose instant has come.
    assert [(item.points, item.expires_at > first_expiry) for item in taken] == [(100, True)]


async def test_the_sweep_burns_only_what_is_due_a_single_point_included(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol("Роман Разный")
    granted = clock.now()
    await _goodwill(shopper, 5, now=granted - timedelta(days=1))  # spent below, burns first
    expires_at = await _goodwill(shopper, 1, now=granted)
    await _goodwill(shopper, 100, now=granted + timedelta(days=1))
    await shop.receipt(shopper.card, "SPEND", [line(600)], redeem=5)

    assert await ledger.expire_due(now=expires_at) == 1
    state = await _stored(shopper.account_id)
    assert (state["balance"], state["pending"]) == (100, 0)
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    burned = [i["points"] for i in history.json()["items"] if i["kind"] == "expire"]
    assert burned == [-1]


async def test_pending_points_become_spendable_at_the_instant_they_mature(client):
    shop = await Shop.open(client)
    rules = await client.put(
        "/api/v1/admin/rules", json={"pending_days": 14}, headers=bearer(shop.admin_key)
    )
    assert rules.status_code == 200, rules.text
    shopper = await shop.enrol()
    sale = await shop.receipt(shopper.card, "R1", [line(100_000)], at=clock.now())
    matures_at = datetime.fromisoformat(sale["earned_available_from"])

    assert await ledger.expire_due(now=matures_at) == 1
    state = await _stored(shopper.account_id)
    assert (state["balance"], state["pending"]) == (50, 0)
