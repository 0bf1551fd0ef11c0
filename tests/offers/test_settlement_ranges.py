"""Settlement in account ranges (PostgreSQL: one transaction per range, several at once): a
run that fails part-way leaves whole ranges settled, and a rerun settles the rest exactly
once, with follow-up jobs that cover every settled row. On SQLite the month is one
transaction, so the failed run settles nothing and the rerun settles all."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.offers.support import consenting, in_this_month, make_offer, opt_in, this_month
from tests.support.shop import Shop, line
from wallet import db, settings
from wallet.offers import service, settlement
from wallet.platform import worker


def _payload(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


async def test_a_rerun_after_a_failed_range_settles_the_rest_exactly_once(
    client, smtp_sink, monkeypatch
):
    # One account a range, one range at a time: the ranges before the failing one commit.
    monkeypatch.setattr(settlement, "RANGE_ROWS", 1)
    settings.override(dataclasses.replace(settings.get(), cashback_settle_connections=1))
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    shoppers = [
        await shop.enrol(f"Покупатель{n} Диапазонов", **consenting(f"range{n}@example.ru"))
        for n in range(3)
    ]
    for shopper in shoppers:
        await opt_in(shop, shopper, offer["id"])
        await shop.receipt(
            shopper.card, f"RANGE-{shopper.account_id}", [line(5_000_000)], at=in_this_month()
        )
    await worker.run_until_idle(now=in_this_month())
    before = {s.account_id: (await shop.me(s))["balance"] for s in shoppers}
    last = max(s.account_id for s in shoppers)
    _start, end = service.month_bounds(this_month())
    first_at = end + timedelta(days=3)

    queue = settlement._queue_follow_ups

    async def fail_on_the_last_account(run: Any, accounts: Any) -> None:
        await queue(run, accounts)
        if accounts is None or accounts[0] <= last <= accounts[1]:
            raise RuntimeError("the database went away")

    monkeypatch.setattr(settlement, "_queue_follow_ups", fail_on_the_last_account)
    with pytest.raises(RuntimeError, match="went away"):
        await settlement.settle_month(this_month(), now=first_at)
    monkeypatch.setattr(settlement, "_queue_follow_ups", queue)
    settled_first = {
        int(row["account_id"])
        for row in await db.raw(
            "SELECT account_id FROM offer_goal_month WHERE status = 'settled' AND offer_id = {}",
            offer["id"],
        )
    }
    if db.is_sqlite():
        assert settled_first == set()
    else:
        assert min(before) in settled_first and last not in settled_first

    # The worker's retry comes later, with a settlement time of its own.
    rerun = await settlement.settle_month(this_month(), now=first_at + timedelta(hours=1))
    assert rerun.settled == rerun.reached == len(shoppers) - len(settled_first)
    assert rerun.points == 1000 * rerun.settled
    again = await settlement.settle_month(this_month(), now=first_at + timedelta(hours=2))
    assert again.settled == 0
    for shopper in shoppers:
        assert (await shop.me(shopper))["balance"] == before[shopper.account_id] + 1000
    lots = await db.raw(
        "SELECT account, COUNT(*) AS n FROM lot WHERE source = 'cashback' GROUP BY account"
    )
    assert {int(r["account"]): int(r["n"]) for r in lots} == {s.account_id: 1 for s in shoppers}

    # Every settled row is covered by a pass-update job of its own settlement time and range.
    jobs = [
        _payload(row["payload"])
        for row in await db.raw("SELECT payload FROM outbox_job WHERE kind = 'offers.pass_updates'")
    ]
    rows = await db.raw(
        "SELECT account_id, settled_at FROM offer_goal_month WHERE offer_id = {}", offer["id"]
    )
    for row in rows:
        settled_at = row["settled_at"]
        marker = settled_at if isinstance(settled_at, str) else settled_at.isoformat()
        covering = [
            job
            for job in jobs
            if job["settled_at"].replace("T", " ")[:19] == marker.replace("T", " ")[:19]
            and (
                "accounts" not in job
                or job["accounts"][0] <= int(row["account_id"]) <= job["accounts"][1]
            )
        ]
        assert covering, (row, jobs)
    # Each shopper hears about the month once.
    await worker.run_until_idle(now=first_at + timedelta(hours=2))
    for n in range(3):
        assert len(smtp_sink.to(f"range{n}@example.ru")) == 1


def test_account_ranges_cover_the_span_once_with_a_range_per_connection_at_least():
    for low, high, rows, connections in [(1, 1, 1, 3), (5, 1_000_004, 1_000_000, 2), (7, 9, 3, 4)]:
        ranges = settlement._account_ranges(low, high, rows, connections=connections)
        covered = [n for first, last in ranges for n in range(first, last + 1)]
        assert covered == list(range(low, high + 1))
        assert len(ranges) >= min(connections, high - low + 1)
        assert len(ranges) >= rows // settlement.RANGE_ROWS


async def test_the_pass_update_job_rebuilds_every_holders_pass_in_slices(client, monkeypatch):
    """One account a batch, one batch a slice: each slice queues the next where it stopped,
    and every holder's pass shows the cashback in the end."""
    from tests.passsync.conftest import download_pass
    from wallet.offers import jobs as offer_jobs

    monkeypatch.setattr(settlement, "PASS_REFRESH_BATCH", 1)
    monkeypatch.setattr(offer_jobs, "PASS_SLICE_SECONDS", 0.0)
    # Passes name their web service; Wallet takes plain http from localhost only.
    settings.override(dataclasses.replace(settings.get(), base_url="http://localhost"))
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    holders = [await shop.enrol(f"Держатель{n} Карты") for n in range(3)]
    for shopper in holders:
        await opt_in(shop, shopper, offer["id"])
        await shop.receipt(
            shopper.card, f"SLICE-{shopper.account_id}", [line(5_000_000)], at=in_this_month()
        )
        await download_pass(shop, shopper)
    await worker.run_until_idle(now=in_this_month())
    tags = {int(r["account_id"]): r["tag"] for r in await db.raw("SELECT * FROM pass_card")}
    _start, end = service.month_bounds(this_month())
    settle_at = end + timedelta(days=3)
    await settlement.settle_month(this_month(), now=settle_at)

    await worker.run_until_idle(now=settle_at)
    after = {int(r["account_id"]): r["tag"] for r in await db.raw("SELECT * FROM pass_card")}
    assert all(after[a] > tags[a] for a in tags), (tags, after)
    jobs = await db.raw("SELECT status, payload FROM outbox_job WHERE kind = 'offers.pass_updates'")
    assert {row["status"] for row in jobs} == {"done"}
    # A slice per holder, and one that found nothing left (per range on PostgreSQL).
    assert len(jobs) >= len(holders) + 1
