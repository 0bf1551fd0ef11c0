"""The worker SIGKILLed in the middle of the month-end cashback settlement: the real
``wallet worker`` process is stopped dead while a range of accounts is being settled (held
there by a row lock this test takes on one account), then a new worker finishes. Every
shopper is credited the month's cashback exactly once and every account reconciles (the
database fixture checks the ledger of all of them).

PostgreSQL only: there the month is settled in account ranges, each a transaction of its
own, so a kill leaves some ranges settled and one half-done. SQLite settles the month in
one transaction (a kill is a plain rollback, as tests/offers/test_settlement_ranges.py
shows with a failing range), and its only lock is the whole file, which would keep the
worker from even claiming the job."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from tests.conftest import Database
from tests.faults.conftest import Workers
from tests.offers.support import consenting, in_this_month, make_offer, opt_in, this_month
from tests.support.shop import Shop, line
from wallet import db
from wallet.platform import service as platform
from wallet.platform import worker
from wallet.platform.tables import OutboxJob

SHOPPERS = 4


async def _settled(offer_id: int) -> set[int]:
    rows = await db.fetch(
        "SELECT account_id FROM offer_goal_month WHERE status = 'settled' AND offer_id = $1",
        offer_id,
    )
    return {int(row["account_id"]) for row in rows}


async def _settle_job() -> dict[str, Any] | None:
    """This month's settlement job (the schedule has queued last month's meanwhile)."""
    rows = (
        await OutboxJob.select(OutboxJob.status, OutboxJob.attempts)
        .where(OutboxJob.kind == "offers.settle")
        .order_by(OutboxJob.id, ascending=False)
        .limit(1)
    )
    return rows[0] if rows else None


class AccountLock:
    """Another transaction holding one account's row (FOR UPDATE): a settlement range that
    reaches it waits there."""

    def __init__(self, database: Database, account_id: int) -> None:
        self.database, self.account_id = database, account_id
        self.connection: asyncpg.Connection | None = None

    async def take(self) -> None:
        self.connection = await asyncpg.connect(self.database.url)
        await self.connection.execute("BEGIN")
        await self.connection.execute(
            "SELECT id FROM account WHERE id = $1 FOR UPDATE", self.account_id
        )

    async def release(self) -> None:
        if self.connection is not None:
            await self.connection.execute("ROLLBACK")
            await self.connection.close()


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_worker_killed_mid_settlement_credits_every_shopper_once(
    client, database: Database, workers: Workers
):
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    shoppers = [
        await shop.enrol(f"Покупатель{n} Расчёта", **consenting(f"settle{n}@example.ru"))
        for n in range(SHOPPERS)
    ]
    for shopper in shoppers:
        await opt_in(shop, shopper, offer["id"])
        await shop.receipt(
            shopper.card, f"SETTLE-{shopper.account_id}", [line(5_000_000)], at=in_this_month()
        )
    await worker.run_until_idle(now=in_this_month())
    before = {s.account_id: (await shop.me(s))["balance"] for s in shoppers}
    last = max(before)

    async with db.write_transaction():
        # The month-end job as the schedule queues it (run ahead of the calendar).
        await platform.enqueue(kind="offers.settle", payload={"slot": this_month()})
    lock = AccountLock(database, last)
    await lock.take()
    try:
        first = workers.start()
        deadline = time.monotonic() + 60
        while (job := await _settle_job()) is None or job["status"] != "running":
            assert time.monotonic() < deadline, (job, workers.log_of(0)[-3000:])
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # the range holding the locked account waits on it
        workers.kill(first)
    finally:
        await lock.release()
    # Ranges are transactions of their own: the one without the locked account committed,
    # the one killed in the middle left nothing.
    settled_first = await _settled(offer["id"])
    assert settled_first and last not in settled_first, settled_first

    workers.start()
    deadline = time.monotonic() + 60
    while (job := await _settle_job()) is not None and job["status"] != "done":
        assert time.monotonic() < deadline, f"the new worker did not finish: {job}"
        await asyncio.sleep(0.2)
    assert job is not None and job["attempts"] == 2

    assert await _settled(offer["id"]) == set(before)
    for shopper in shoppers:
        assert (await shop.me(shopper))["balance"] == before[shopper.account_id] + 1000
    lots = await db.fetch(
        "SELECT account, COUNT(*) AS n FROM lot WHERE source = 'cashback' GROUP BY account"
    )
    assert {int(r["account"]): int(r["n"]) for r in lots} == {a: 1 for a in before}
