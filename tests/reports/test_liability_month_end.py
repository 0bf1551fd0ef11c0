"""The liability at a past moment read from the last recorded month end and the journal
after it gives exactly the figures the whole journal gives, on both sides of a month end:
lots that expire between the month end and the moment, pending lots, a return that left a
debt and its repayment, a merged card, an entry at the month end's very instant, and an
entry written after the month was recorded but dated before it."""

from __future__ import annotations

import asyncio
import os
import sys
from asyncio.subprocess import PIPE
from datetime import datetime, timedelta

from tests.conftest import ROOT
from wallet import clock, db
from wallet.ledger import jobs, month_end
from wallet.ledger import service as ledger
from wallet.reports import service
from wallet.reports.schemas import Liability

DAY = timedelta(days=1)


async def _earn(
    account_id: int,
    points: int,
    *,
    at: datetime,
    expires_at: datetime,
    available_from: datetime | None = None,
) -> int:
    async with db.write_transaction(), ledger.account(account_id, now=at) as acct:
        return await acct.earn(
            points,
            source="bonus",
            earned_at=at,
            available_from=available_from or at,
            expires_at=expires_at,
        )


async def _spend(account_id: int, points: int, *, at: datetime) -> None:
    async with db.write_transaction(), ledger.account(account_id, now=at) as acct:
        await acct.spend(points)


async def _reports(moments: list[datetime], now: datetime) -> list[Liability]:
    return [await service.liability(moment, now=now) for moment in moments]


async def test_a_past_liability_from_the_month_end_equals_the_whole_journal(client, database):
    now = clock.now()
    current = month_end.month_key(now)
    first, second = month_end.shift_month(current, -3), month_end.shift_month(current, -2)
    e1, e2 = month_end.month_end(first), month_end.month_end(second)
    start = e1 - 40 * DAY
    anna, boris, dan, erin, gleb, vera = [await ledger.open_account(now=start) for _ in range(6)]

    # Anna: a lot that expires between the two month ends, one that outlives both, points
    # spent before the first month end and after the second, and 5 earned at its instant.
    await _earn(anna, 100, at=e1 - 30 * DAY, expires_at=e1 + 10 * DAY)
    await _earn(anna, 200, at=e1 - 20 * DAY, expires_at=e1 + 100 * DAY)
    await _spend(anna, 50, at=e1 - 5 * DAY)
    await _earn(anna, 5, at=e1, expires_at=e1 + 100 * DAY)
    # Boris spends a lot's points, the lot is taken back after the month end (a debt),
    # and a later lot repays part of it (a debt of 250, then 150).
    lot = await _earn(boris, 300, at=e1 - 10 * DAY, expires_at=e1 + 150 * DAY)
    await _spend(boris, 250, at=e1 - 2 * DAY)
    async with db.write_transaction(), ledger.account(boris, now=e1 + 2 * DAY) as acct:
        await acct.take_back(300, from_lot=lot, receipt_id=None)
    await _earn(boris, 100, at=e1 + 5 * DAY, expires_at=e1 + 150 * DAY)
    # Dan's points are pending across the first month end.
    await _earn(dan, 80, at=e1 - 3 * DAY, available_from=e1 + 7 * DAY, expires_at=e1 + 200 * DAY)
    # Erin's lot expired before the first month end; the sweep burns it a day later.
    await _earn(erin, 60, at=e1 - 35 * DAY, expires_at=e1 - DAY)
    await ledger.expire_due(now=e1 + DAY)
    # Gleb's card joins Vera's account after the first month end.
    await _earn(vera, 70, at=e1 - 25 * DAY, expires_at=e2 + 90 * DAY)
    await _earn(gleb, 400, at=e1 - 15 * DAY, expires_at=e2 + 90 * DAY)
    async with db.write_transaction():
        await ledger.merge_accounts(gleb, vera, now=e1 + 3 * DAY, actor="t")
    await _spend(anna, 10, at=e2 + DAY)
    await _spend(vera, 100, at=e2 + 2 * DAY)

    second_ = timedelta(seconds=1)
    moments = [
        e1 - second_,
        e1,
        e1 + second_,
        e1 + 2 * DAY + second_,
        e1 + 4 * DAY,
        e1 + 8 * DAY,
        e1 + 11 * DAY,
        e2 - second_,
        e2,
        e2 + 3 * DAY,
    ]
    rebuilt = await _reports(moments, now)
    assert rebuilt[3].total.debt_points == 250 and rebuilt[4].total.pending_points == 80

    # The worker records the month that ended last; the months before it ran are filled in
    # from the journal, oldest first.
    last = jobs.month_end_slot(now)
    await jobs.record_month_end({"slot": last})
    assert await _reports(moments, now) == rebuilt
    env = {**os.environ, "WALLET_DATABASE_URL": database.url, "PYTHONPATH": str(ROOT)}
    since = month_end.shift_month(first, -1)
    command = [sys.executable, "-m", "wallet", "record-liability", "--since", since]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    printed = out.decode().splitlines()
    assert [line.split()[0] for line in printed] == [since, first, second, last]
    assert printed[-1] == f"{last} already recorded"
    assert all(line.endswith(" rows") for line in printed[:-1])
    # A rerun writes nothing.
    again = await month_end.record_since(month_end.shift_month(first, -1), now=now)
    assert set(again.values()) == {None}
    assert await _reports(moments, now) == rebuilt

    # An entry written now but dated before the first month end still counts.
    await _earn(erin, 30, at=e1 - DAY, expires_at=e2 + 200 * DAY)
    after = await _reports(moments, now)
    for moment, before, report in zip(moments, rebuilt, after, strict=True):
        added = 30 if moment >= e1 - DAY else 0
        assert report.total.balance_points == before.total.balance_points + added, moment
        assert report.total.debt_points == before.total.debt_points, moment


async def test_a_month_end_two_months_back_splits_expiry_months_as_the_journal_does(
    client, database
):
    """Only an older month end recorded (the worker missed one): a moment two months after
    it reads the same figures as the whole journal, including lots that expire earlier in
    the moment's own month (gone), later in it (the first expiry month) and more than a year
    ahead (the last bucket), and a lot that matured in between."""
    now = clock.now()
    current = month_end.month_key(now)
    first = month_end.shift_month(current, -4)
    e1 = month_end.month_end(first)
    start = e1 - 20 * DAY
    anna, boris = [await ledger.open_account(now=start) for _ in range(2)]
    moment = month_end.month_end(month_end.shift_month(first, 1)) + 10 * DAY
    await _earn(anna, 100, at=e1 - 10 * DAY, expires_at=moment - 2 * DAY)
    await _earn(anna, 200, at=e1 - 9 * DAY, expires_at=moment + 2 * DAY)
    await _earn(anna, 300, at=e1 - 8 * DAY, expires_at=e1 + 500 * DAY)
    await _earn(boris, 40, at=e1 - 2 * DAY, available_from=e1 + 20 * DAY, expires_at=e1 + 90 * DAY)
    await _earn(boris, 7, at=moment - DAY, expires_at=moment + DAY)
    moments = [e1 + 5 * DAY, moment]
    rebuilt = await _reports(moments, now)
    assert rebuilt[1].total.balance_points == 200 + 300 + 40 + 7
    assert rebuilt[1].expiring[0].points == 207
    assert rebuilt[1].expiring_later_points == 300

    assert await month_end.record_month(first, now=now)
    assert await _reports(moments, now) == rebuilt
