"""Month-end settlement of smart-goal cashback, set-based.

A month is settled a few days after it ends (``WALLET_CASHBACK_SETTLE_DAYS``), so late
receipts and returns are in. The work is set-based over the progress rows
(``offer_goal_month``), never a loop over accounts. On PostgreSQL an offer's month is cut
into account-id ranges (about ``RANGE_ROWS`` progress rows each) settled on
``WALLET_CASHBACK_SETTLE_CONNECTIONS`` connections at once, each range one transaction and
one statement, a chain of data-modifying CTEs that reads each progress row once:

1. ``claimed``: the month's open rows become ``status = 'settled'`` with their outcome and
   reward (spend >= goal pays min(floor(spend x rate), cap) points, below the goal
   nothing) and, for a reward of an account without debt, a lot id drawn from the lot
   sequence. A row claimed once is never claimed again, which is what makes a second run
   credit nothing;
2. the ledger's set-based credit (``ledger.bulk.credit_ctes``): one lot and one journal
   entry per drawn lot id, those accounts' balances grown by the same rewards.

Then the ledger announces the set it credited (``ledger.bulk.announce``): webhooks write a
``points.changed`` delivery per account with one ``INSERT ... SELECT``, in the range's
transaction, only if an endpoint asked for it (with none, nothing is read).

SQLite has no data-modifying CTEs; the embedded default (small data, one writer) runs the
same steps as separate statements (``ledger.bulk.credit_in_steps``). Both then credit
accounts with debt one by one through the ledger's door (``ledger.bulk.credit_each``: it
repays the debt from the new lot first), and queue two jobs: the pass updates and the
outcome emails, each expanded by the worker in batches (``jobs.py``), so neither is a
million rows written inside the settlement. The pass-update job asks pass sync which
accounts have a pass (``passsync.refresh.has_pass_sql``).

Ranges and reruns: a range claims only ``status = 'open'`` rows, so a crash or an error
leaves whole ranges settled and the rest open, and a rerun (a new settlement time) settles
exactly the rest. Each range queues its own pass-update and notify jobs in its own
transaction, keyed and bounded by its account range: a committed range always has jobs for
exactly its rows, whatever happened to the others. Two ranges never share an account (one
progress row per account, offer and month), so they never wait for each other's locks.

Why the foreign keys stay: about 40% of a range's time is PostgreSQL's per-row
foreign-key checks of the new lots and journal entries (``perf`` on one 250,000-row range at
1,000,000 accounts: 43% under ``AfterTriggerEndQuery``, mostly executor start-up per check).
The journal entry's check of its lot, inserted by the same statement, cannot be skipped in
PostgreSQL without disabling triggers (superuser only, and it would skip every other trigger
too), so the checks are paid; the ranges spread them over the cores instead.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wallet import clock, db
from wallet import settings as settings_module
from wallet.errors import InvalidInput
from wallet.ledger import bulk
from wallet.offers import queries
from wallet.offers.schemas import SettlementReport
from wallet.offers.service import month_bounds, offer_row
from wallet.passsync import refresh as pass_refresh
from wallet.platform import service as platform
from wallet.rules import service as rules_service

# Accounts whose passes are rebuilt per transaction after a settlement.
PASS_REFRESH_BATCH = 500
# Progress rows per account range on PostgreSQL (each range is one transaction; a till's
# receipt for an account of a range being settled waits for that range only).
RANGE_ROWS = 100_000


async def settle_month(month: str, *, now: datetime) -> SettlementReport:
    _start, end = month_bounds(month)
    if now < end:
        raise InvalidInput(
            f"{month} is not over yet (it ends {end.isoformat()}); settle after that",
            {"month": month},
        )
    # Each offer with open rows, and where its open rows lie (one scan for all offers).
    offers = await db.fetch(queries.OPEN_MONTH_SPANS, month)
    totals = {"settled": 0, "reached": 0, "missed": 0, "points": 0}
    for row in offers:
        span = (int(row["low"]), int(row["high"]), int(row["n"]))
        counts = await _settle_offer(int(row["offer_id"]), month, now=now, month_end=end, span=span)
        for key, value in counts.items():
            totals[key] += value
    return SettlementReport(month=month, offers=len(offers), **totals)


class _Terms:
    """One offer's month in SQL: the outcome and reward expressions over a progress row."""

    def __init__(self, offer: dict[str, Any], divisor: int) -> None:
        rate, cap = int(offer["rate_bp"]), int(offer["cap_points"])
        self.reached = "spent_kopecks >= goal_kopecks AND spent_kopecks > 0"
        raw_reward = f"(spent_kopecks * {rate} / {divisor})"
        self.reward = (
            f"CASE WHEN NOT ({self.reached}) THEN 0 "
            f"WHEN {raw_reward} > {cap} THEN {cap} ELSE {raw_reward} END"
        )
        self.outcome = f"CASE WHEN {self.reached} THEN 'reached' ELSE 'missed' END"


@dataclass(frozen=True)
class _Month:
    """What every range of one offer's month is settled with."""

    offer_id: int
    month: str
    terms: _Terms
    now: datetime
    expires_at: datetime
    credit: bulk.Credit


# An account-id range, both ends included; None is the whole month.
_Range = bulk.Range


async def _settle_offer(
    offer_id: int, month: str, *, now: datetime, month_end: datetime, span: tuple[int, int, int]
) -> dict[str, int]:
    offer = await offer_row(offer_id)
    rules = await rules_service.rules_at(month_end)
    expires_at = clock.add_months(now, int(offer["validity_months"]))
    run = _Month(
        offer_id=offer_id,
        month=month,
        terms=_Terms(offer, 10_000 * rules.point_value_kopecks),
        now=now,
        expires_at=expires_at,
        credit=bulk.Credit(
            source="cashback",
            earned_at=min(now, month_end),
            expires_at=expires_at,
            reason=f"cashback for {month}: offer {offer_id}",
            now=now,
        ),
    )
    config = settings_module.get()
    connections = max(1, min(config.cashback_settle_connections, config.db_pool_size))
    if db.is_sqlite() or expires_at <= now or _in_transaction():
        async with db.write_transaction():
            return await _settle_range(run, None)
    ranges = _account_ranges(*span, connections=connections)
    totals = {"settled": 0, "reached": 0, "missed": 0, "points": 0}
    gate = asyncio.Semaphore(connections)

    async def settle_one(accounts: _Range) -> dict[str, int]:
        async with gate, db.write_transaction():
            return await _settle_range(run, accounts)

    # A failing range cancels the others (their transactions roll back); ranges already
    # committed stay settled and a rerun settles the rest. The operator sees the first
    # error itself, not a group of one.
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(settle_one(accounts)) for accounts in ranges]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    for task in tasks:
        for key, value in task.result().items():
            totals[key] += value
    return totals


def _in_transaction() -> bool:
    """A caller's open transaction: the ranges then run one after another inside it."""
    return db.engine().current_transaction.get() is not None


def _account_ranges(low: int, high: int, rows: int, *, connections: int) -> list[_Range]:
    """The open rows, whose account ids run from ``low`` to ``high``, cut into account-id
    ranges of about ``RANGE_ROWS`` rows, at least one per connection. Even cuts of the id
    span: account ids are a sequence, so the enrolled ones spread over it; an uneven range
    only waits a little longer. Rows opened after the span was read fall outside every
    range and wait for the next run."""
    pieces = max(connections, -(-rows // RANGE_ROWS))
    width = -(-(high - low + 1) // pieces)
    return [(first, min(first + width - 1, high)) for first in range(low, high + 1, width)]


async def _settle_range(run: _Month, accounts: _Range) -> dict[str, int]:
    """Settle the open rows of one account range (or the whole month) in the caller's
    transaction, and queue the follow-up jobs for exactly those rows in it too."""
    if not db.is_sqlite():
        for setting in queries.SETTLEMENT_PLAN_SETTINGS:
            await db.fetch(setting)
    if db.is_sqlite() or run.expires_at <= run.now:
        counts, owing = await _settle_in_steps(run)
    else:
        counts, owing = await _settle_in_one_statement(run, accounts)
    if counts["points"] > sum(int(item["reward_points"]) for item in owing):
        # Those credited set-based, told in one go (``points.changed`` webhooks, if any
        # endpoint asked: else nothing is read); the owing below pass the door, which tells.
        await bulk.announce(
            *queries.credited_in_bulk(run.offer_id, run.month, run.now, accounts), now=run.now
        )
    # Accounts that owe points (a return found its points spent) take the general path,
    # which repays the debt from the new lot first; they are few.
    new_lots = await bulk.credit_each(
        [(int(item["account_id"]), int(item["reward_points"])) for item in owing], run.credit
    )
    for item, new_lot in zip(owing, new_lots, strict=True):
        await db.fetch(queries.SET_GOAL_LOT, new_lot, item["id"])
    if counts["settled"]:
        await _queue_follow_ups(run, accounts)
    return counts


async def _queue_follow_ups(run: _Month, accounts: _Range) -> None:
    """The pass updates and outcome emails of the rows just settled, queued in the same
    transaction: a range that commits always has its jobs, one that rolls back has none.
    A range's jobs cover only its accounts and have keys of their own, so a job that has
    already started on another range never absorbs them."""
    payload: dict[str, Any] = {"offer_id": run.offer_id, "month": run.month}
    suffix = ""
    if accounts is not None:
        payload["accounts"] = list(accounts)
        suffix = f":{accounts[0]}-{accounts[1]}"
    await platform.enqueue(
        kind="offers.pass_updates",
        payload={**payload, "settled_at": run.now.isoformat()},
        dedupe_key=f"offers:pass_updates:{run.offer_id}:{run.month}:{run.now.isoformat()}{suffix}",
    )
    await platform.enqueue(
        kind="offers.notify",
        payload=payload,
        dedupe_key=f"offers:notify:{run.offer_id}:{run.month}{suffix}",
    )


def _counts(summary: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"settled": 0, "reached": 0, "missed": 0, "points": 0}
    for item in summary:
        counts[item["outcome"]] += int(item["n"])
        counts["settled"] += int(item["n"])
        counts["points"] += int(item["points"])
    return counts


async def _settle_in_one_statement(
    run: _Month, accounts: _Range
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """PostgreSQL: claim, lots, journal entries and balances in one statement.

    The sub-statements share one snapshot; the foreign keys of the journal entries to
    their lots are checked at the end of the statement, when the lots are there. An account
    that gets debt between the snapshot and its balance update (a concurrent return) keeps
    that debt to be repaid from the next points earned: nothing is created or lost.

    A range also bounds the account reads, so each range's plan reads only its slice of
    the account table.
    """
    terms = run.terms
    lot_id = bulk.new_lot_id(
        terms.reward, "offer_goal_month.account_id", await bulk.lot_sequence(), accounts
    )
    text, args = queries.settle_in_one_statement(
        outcome=terms.outcome,
        reward=terms.reward,
        lot_id=lot_id,
        offer_id=run.offer_id,
        month=run.month,
        now=run.now,
        credit=run.credit,
        accounts=accounts,
    )
    summary = await db.fetch(db.sql(text, owing=db.json_value), *args)
    owing: list[dict[str, Any]] = []
    for item in summary:
        owing.extend(item["owing"] or ())
    return _counts(summary), owing


async def _settle_in_steps(run: _Month) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """SQLite (and a reward already expired on arrival): the same steps, one statement
    each. One writer at a time on SQLite, so lot ids after the current maximum are free."""
    offer_id, month, terms, now = run.offer_id, run.month, run.terms, run.now
    text, args = queries.claim_open_rows(
        outcome=terms.outcome, reward=terms.reward, offer_id=offer_id, month=month, now=now
    )
    await db.fetch(text, *args)
    text, args = queries.settled_summary(offer_id, month, now)
    summary = await db.fetch(text, *args)
    if run.expires_at > now and db.is_sqlite():
        text, args = queries.number_new_lots(await bulk.last_lot_id(), offer_id, month, now)
        await db.fetch(text, *args)
        await bulk.credit_in_steps(*queries.rows_to_credit(offer_id, month, now), run.credit)
    text, args = queries.owing_rows(offer_id, month, now)
    owing = await db.fetch(text, *args)
    return _counts(summary), owing


async def refresh_passes(
    offer_id: int,
    month: str,
    *,
    settled_at: datetime,
    accounts: _Range = None,
    after: int = 0,
    seconds: float | None = None,
) -> int | None:
    """Rebuild the passes of the accounts settled by that run (in that account range, if
    given) that have one, ``PASS_REFRESH_BATCH`` accounts a transaction through
    ``passsync.refresh.refresh_accounts`` (new balance and goal on the pass, its devices
    flagged, one push job). Not one outbox job per account: 400,000 of them queued in
    front of the tills' own pass updates held those back for minutes after a month was
    settled.

    Starts after progress row ``after``; with ``seconds``, stops after that long and
    returns the row to go on from (None: done). A retry redoes a batch at most: a pass
    that has not changed since is left as it is and pushes nothing.
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        text, args = queries.settled_with_pass(
            offer_id=offer_id,
            month=month,
            settled_at=settled_at,
            after=after,
            limit=PASS_REFRESH_BATCH,
            accounts=accounts,
            has_pass=pass_refresh.has_pass_sql("g.account_id"),
        )
        rows = await db.fetch(text, *args)
        if not rows:
            return None
        await pass_refresh.refresh_accounts(
            sorted({int(row["account_id"]) for row in rows}), now=clock.now()
        )
        after = int(rows[-1]["id"])
        if deadline is not None and time.monotonic() > deadline:
            return after


async def unnotified(
    offer_id: int, month: str, *, limit: int, accounts: _Range = None
) -> list[dict[str, Any]]:
    text, args = queries.unnotified(offer_id, month, limit=limit, accounts=accounts)
    return await db.fetch(text, *args)
