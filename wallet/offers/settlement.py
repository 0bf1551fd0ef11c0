"""Month-end settlement of smart-goal cashback, set-based.

A month is settled a few days after it ends (``WALLET_CASHBACK_SETTLE_DAYS``), so late
receipts and returns are in. Each offer's month is one transaction over the progress rows
(``offer_goal_month``), never a loop over accounts. On PostgreSQL it is one statement, a
chain of data-modifying CTEs that reads each progress row once:

1. ``claimed``: the month's open rows become ``status = 'settled'`` with their outcome and
   reward (spend >= goal pays min(floor(spend x rate), cap) points, below the goal
   nothing) and, for a reward of an account without debt, a lot id drawn from the lot
   sequence. A row claimed once is never claimed again, which is what makes a second run
   credit nothing;
2. ``lots`` and ``journal``: one lot and one journal entry per drawn lot id;
3. ``credited``: those accounts' balances grow by the same rewards.

SQLite has no data-modifying CTEs; the embedded default (small data, one writer) runs the
same steps as separate statements. Both then credit accounts with debt one by one through
``ledger.credit`` (it repays the debt from the new lot first, as every other credit does),
and queue two jobs: the pass updates and the outcome emails, each expanded by the worker in
batches (``jobs.py``), so neither is a million rows written inside the settlement.

Boundary crossings, all read-only and set-based: the statements write the ledger's
``lot``, ``journal_entry`` and ``account`` rows the way ``ledger.credit`` does (same columns,
same invariant) because a call per account would be a million round trips; the pass-update
job asks pass sync which accounts have a pass (``passsync.has_pass_sql``) and writes outbox
rows in the shape of ``platform.enqueue_pass_update``.

The ledger invariant holds row by row: each lot gets one journal entry equal to its
amount, and the account's balance grows by the same number in the same transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from wallet import clock, db
from wallet.errors import InvalidInput
from wallet.ledger import service as ledger
from wallet.offers.schemas import SettlementReport
from wallet.offers.service import _offer_row, month_bounds
from wallet.passsync import service as passsync
from wallet.platform import service as platform
from wallet.rules import service as rules_service

# The rows this run settled: a rerun finds none open, so it never shares this marker.
_MONTH_ROWS = "offer_id = {} AND month = {} AND status = 'settled' AND settled_at = {}"
# Outbox rows written per transaction when the pass-update job fans out.
PASS_UPDATE_BATCH = 20_000


async def settle_month(month: str, *, now: datetime) -> SettlementReport:
    _start, end = month_bounds(month)
    if now < end:
        raise InvalidInput(
            f"{month} is not over yet (it ends {end.isoformat()}); settle after that",
            {"month": month},
        )
    offers = await db.raw(
        "SELECT DISTINCT offer_id FROM offer_goal_month WHERE month = {} AND status = 'open' "
        "ORDER BY offer_id",
        month,
    )
    totals = {"settled": 0, "reached": 0, "missed": 0, "points": 0}
    for row in offers:
        async with db.write_transaction():
            counts = await _settle_offer(int(row["offer_id"]), month, now=now, month_end=end)
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


# An account's next lot event is the earliest of what it had and the new lot's expiry.
_NEXT_EVENT = (
    "CASE WHEN account.next_lot_event_at IS NULL OR account.next_lot_event_at > {} "
    "THEN {} ELSE account.next_lot_event_at END"
)


async def _settle_offer(
    offer_id: int, month: str, *, now: datetime, month_end: datetime
) -> dict[str, int]:
    if not db.is_sqlite():
        # The plans join a million rows to a million: hash joins, memory to hold them, and
        # no JIT (it compiled for 0.45 s of a 3 s statement at 100,000 rows).
        await db.raw("SET LOCAL enable_nestloop = off")
        await db.raw("SET LOCAL work_mem = '64MB'")
        await db.raw("SET LOCAL jit = off")
    offer = await _offer_row(offer_id)
    rules = await rules_service.rules_at(month_end)
    terms = _Terms(offer, 10_000 * rules.point_value_kopecks)
    expires_at = clock.add_months(now, int(offer["validity_months"]))
    earned_at = min(now, month_end)
    reason = f"cashback for {month}: offer {offer_id}"
    if db.is_sqlite() or expires_at <= now:
        counts, owing = await _settle_in_steps(
            offer_id,
            month,
            terms,
            now=now,
            earned_at=earned_at,
            expires_at=expires_at,
            reason=reason,
        )
    else:
        counts, owing = await _settle_in_one_statement(
            offer_id,
            month,
            terms,
            now=now,
            earned_at=earned_at,
            expires_at=expires_at,
            reason=reason,
        )
    # Accounts that owe points (a return found its points spent) take the general path,
    # which repays the debt from the new lot first; they are few.
    for item in sorted(owing, key=lambda row: int(row["account_id"])):
        state = await ledger.settle_clock(await ledger.lock_account(item["account_id"]), now=now)
        new_lot = await ledger.credit(
            state,
            int(item["reward_points"]),
            kind="earn",
            source="cashback",
            earned_at=earned_at,
            available_from=now,
            expires_at=expires_at,
            now=now,
            reason=reason,
        )
        await db.raw("UPDATE offer_goal_month SET lot_id = {} WHERE id = {}", new_lot, item["id"])
    await platform.enqueue(
        kind="offers.pass_updates",
        payload={"offer_id": offer_id, "month": month, "settled_at": now.isoformat()},
        dedupe_key=f"offers:pass_updates:{offer_id}:{month}:{now.isoformat()}",
    )
    await platform.enqueue(
        kind="offers.notify",
        payload={"offer_id": offer_id, "month": month},
        dedupe_key=f"offers:notify:{offer_id}:{month}",
    )
    return counts


def _counts(summary: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"settled": 0, "reached": 0, "missed": 0, "points": 0}
    for item in summary:
        counts[item["outcome"]] += int(item["n"])
        counts["settled"] += int(item["n"])
        counts["points"] += int(item["points"])
    return counts


async def _settle_in_one_statement(
    offer_id: int,
    month: str,
    terms: _Terms,
    *,
    now: datetime,
    earned_at: datetime,
    expires_at: datetime,
    reason: str,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """PostgreSQL: claim, lots, journal entries and balances in one statement.

    The sub-statements share one snapshot; the foreign keys of the journal entries to
    their lots are checked at the end of the statement, when the lots are there. An account
    that gets debt between the snapshot and its balance update (a concurrent return) keeps
    that debt to be repaid from the next points earned: nothing is created or lost.
    """
    sequence = await db.raw("SELECT pg_get_serial_sequence('lot', 'id') AS name")
    sequence_name = str(sequence[0]["name"]).replace("'", "")
    lot_id = (
        f"CASE WHEN ({terms.reward}) > 0 AND NOT EXISTS (SELECT 1 FROM account "
        "WHERE account.id = offer_goal_month.account_id AND account.debt > 0) "
        f"THEN nextval('{sequence_name}') END"
    )
    summary = await db.raw(
        "WITH claimed AS ("
        "UPDATE offer_goal_month SET status = 'settled', settled_at = {}, "
        f"outcome = {terms.outcome}, reward_points = {terms.reward}, lot_id = {lot_id} "
        "WHERE offer_id = {} AND month = {} AND status = 'open' "
        "RETURNING id, account_id, outcome, reward_points, lot_id), "
        "lots AS (INSERT INTO lot (id, account, amount, remaining, earned_at, available_from, "
        "expires_at, is_pending, source, receipt_id) "
        "SELECT lot_id, account_id, reward_points, reward_points, {}, {}, {}, false, "
        "'cashback', NULL FROM claimed WHERE lot_id IS NOT NULL), "
        "journal AS (INSERT INTO journal_entry (account, lot, kind, points, receipt_id, actor, "
        "reason, created_at) SELECT account_id, lot_id, 'earn', reward_points, NULL, "
        "'system', {}, {} FROM claimed WHERE lot_id IS NOT NULL), "
        "credited AS (UPDATE account SET balance = account.balance + claimed.reward_points, "
        f"next_lot_event_at = {_NEXT_EVENT} FROM claimed "
        "WHERE claimed.account_id = account.id AND claimed.lot_id IS NOT NULL) "
        "SELECT outcome, COUNT(*) AS n, COALESCE(SUM(reward_points), 0) AS points, "
        "json_agg(json_build_object('id', id, 'account_id', account_id, "
        "'reward_points', reward_points)) "
        "FILTER (WHERE reward_points > 0 AND lot_id IS NULL) AS owing "
        "FROM claimed GROUP BY outcome",
        now,
        offer_id,
        month,
        earned_at,
        now,
        expires_at,
        reason,
        now,
        expires_at,
        expires_at,
    )
    owing: list[dict[str, Any]] = []
    for item in summary:
        if item["owing"]:
            owing.extend(json.loads(item["owing"]))
    return _counts(summary), owing


async def _settle_in_steps(
    offer_id: int,
    month: str,
    terms: _Terms,
    *,
    now: datetime,
    earned_at: datetime,
    expires_at: datetime,
    reason: str,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """SQLite (and a reward already expired on arrival): the same steps, one statement
    each. One writer at a time on SQLite, so lot ids after the current maximum are free."""
    await db.raw(
        "UPDATE offer_goal_month SET status = 'settled', settled_at = {}, "
        f"outcome = {terms.outcome}, reward_points = {terms.reward}, lot_id = NULL "
        "WHERE offer_id = {} AND month = {} AND status = 'open'",
        now,
        offer_id,
        month,
    )
    summary = await db.raw(
        "SELECT outcome, COUNT(*) AS n, COALESCE(SUM(reward_points), 0) AS points "
        f"FROM offer_goal_month WHERE {_MONTH_ROWS} GROUP BY outcome",
        offer_id,
        month,
        now,
    )
    if expires_at > now and db.is_sqlite():
        top = await db.raw("SELECT COALESCE(MAX(id), 0) AS top FROM lot")
        await db.raw(
            "UPDATE offer_goal_month SET lot_id = {} + numbered.rn FROM ("
            "SELECT g.id, ROW_NUMBER() OVER (ORDER BY g.id) AS rn FROM offer_goal_month g "
            "JOIN account a ON a.id = g.account_id WHERE g.offer_id = {} AND g.month = {} "
            "AND g.status = 'settled' AND g.settled_at = {} AND g.reward_points > 0 "
            "AND a.debt = 0) AS numbered WHERE offer_goal_month.id = numbered.id",
            int(top[0]["top"]),
            offer_id,
            month,
            now,
        )
        await db.raw(
            "UPDATE account SET balance = account.balance + g.reward_points, "
            f"next_lot_event_at = {_NEXT_EVENT} FROM offer_goal_month g "
            "WHERE g.account_id = account.id AND g.offer_id = {} AND g.month = {} "
            "AND g.status = 'settled' AND g.settled_at = {} AND g.lot_id IS NOT NULL",
            expires_at,
            expires_at,
            offer_id,
            month,
            now,
        )
        await db.raw(
            "INSERT INTO lot (id, account, amount, remaining, earned_at, available_from, "
            "expires_at, is_pending, source, receipt_id) "
            "SELECT lot_id, account_id, reward_points, reward_points, {}, {}, {}, false, "
            f"'cashback', NULL FROM offer_goal_month WHERE {_MONTH_ROWS} AND lot_id IS NOT NULL",
            earned_at,
            now,
            expires_at,
            offer_id,
            month,
            now,
        )
        await db.raw(
            "INSERT INTO journal_entry (account, lot, kind, points, receipt_id, actor, reason, "
            "created_at) SELECT account_id, lot_id, 'earn', reward_points, NULL, 'system', {}, {} "
            f"FROM offer_goal_month WHERE {_MONTH_ROWS} AND lot_id IS NOT NULL",
            reason,
            now,
            offer_id,
            month,
            now,
        )
    owing = await db.raw(
        "SELECT id, account_id, reward_points FROM offer_goal_month "
        f"WHERE {_MONTH_ROWS} AND reward_points > 0 AND lot_id IS NULL",
        offer_id,
        month,
        now,
    )
    return _counts(summary), owing


async def queue_pass_updates(offer_id: int, month: str, *, settled_at: datetime) -> int:
    """One waiting pass update for every account settled by that run that has a pass, in
    batches of ``PASS_UPDATE_BATCH`` progress rows, each its own transaction (the same rows
    ``platform.enqueue_pass_update`` writes one at a time, coalesced with a waiting one).

    A retry starts over: a second job for an account only rebuilds a pass that has not
    changed, which pushes nothing. Returns how many progress rows were looked at.
    """
    payload = (
        "json_object('account_id', g.account_id)"
        if db.is_sqlite()
        else "json_build_object('account_id', g.account_id)"
    )
    after, seen = 0, 0
    while True:
        async with db.write_transaction():
            batch = await db.raw(
                "SELECT MAX(id) AS last, COUNT(*) AS n FROM (SELECT id FROM offer_goal_month "
                f"WHERE {_MONTH_ROWS} AND id > {{}} ORDER BY id LIMIT {{}}) AS b",
                offer_id,
                month,
                settled_at,
                after,
                PASS_UPDATE_BATCH,
            )
            if not batch or not batch[0]["n"]:
                return seen
            last = int(batch[0]["last"])
            moment = clock.now()
            await db.raw(
                "INSERT INTO outbox_job (kind, dedupe_key, payload, status, attempts, due_at, "
                "last_error, created_at, updated_at) "
                f"SELECT 'pass_update', 'pass:account:' || g.account_id, {payload}, "
                "'pending', 0, {}, '', {}, {} FROM offer_goal_month g "
                "WHERE g.offer_id = {} AND g.month = {} AND g.status = 'settled' "
                "AND g.settled_at = {} AND g.id > {} AND g.id <= {} "
                f"AND {passsync.has_pass_sql('g.account_id')} "
                "ON CONFLICT (dedupe_key) DO NOTHING",
                moment,
                moment,
                moment,
                offer_id,
                month,
                settled_at,
                after,
                last,
            )
        seen += int(batch[0]["n"])
        after = last


async def unnotified(offer_id: int, month: str, *, limit: int) -> list[dict[str, Any]]:
    return await db.raw(
        "SELECT id, account_id, outcome, reward_points, goal_kopecks, spent_kopecks, lot_id "
        "FROM offer_goal_month WHERE offer_id = {} AND month = {} AND status = 'settled' "
        "AND notified = false ORDER BY id LIMIT {}",
        offer_id,
        month,
        limit,
    )
