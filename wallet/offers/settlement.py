"""Month-end settlement of smart-goal cashback, set-based.

A month is settled a few days after it ends (``WALLET_CASHBACK_SETTLE_DAYS``), so late
receipts and returns are in. Each offer's month is one transaction of a few statements
over the progress rows (``offer_goal_month``), never a loop over accounts:

1. claim the month's open rows (``status = 'settled'``, ``settled_at`` = this run) and fix
   each outcome and reward: spend >= goal pays min(floor(spend x rate), cap) points, below
   the goal nothing; on PostgreSQL the same UPDATE draws a lot id for each reward of an
   account without debt. A row claimed once is never claimed again, which is what makes a
   second run credit nothing;
2. credit those accounts in one grouped UPDATE;
3. insert those lots and their journal entries with INSERT ... SELECT;
4. credit accounts with debt one by one through ``ledger.credit`` (it repays the debt from
   the new lot first, as every other credit does);
5. queue pass updates for every settled account (one outbox row per account, coalesced
   with any waiting one) and one job that emails the outcomes in batches.

The ledger invariant holds row by row: each lot gets one journal entry equal to its
amount, and the account's balance grows by the same number in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import clock, db
from wallet.errors import InvalidInput
from wallet.ledger import service as ledger
from wallet.offers.schemas import SettlementReport
from wallet.offers.service import _offer_row, month_bounds
from wallet.platform import service as platform
from wallet.rules import service as rules_service

# The rows this run settled: a rerun finds none open, so it never shares this marker.
_MONTH_ROWS = "offer_id = {} AND month = {} AND status = 'settled' AND settled_at = {}"


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


async def _settle_offer(
    offer_id: int, month: str, *, now: datetime, month_end: datetime
) -> dict[str, int]:
    if not db.is_sqlite():
        # The planner's statistics still say every row is 'open' (they predate step 1), so
        # it would join the claimed rows by nested loops, row by row; these statements
        # touch every claimed row, so hash joins are the right plan.
        await db.raw("SET LOCAL enable_nestloop = off")
        await db.raw("SET LOCAL work_mem = '64MB'")
    offer = await _offer_row(offer_id)
    rules = await rules_service.rules_at(month_end)
    divisor = 10_000 * rules.point_value_kopecks
    rate, cap = int(offer["rate_bp"]), int(offer["cap_points"])
    expires_at = clock.add_months(now, int(offer["validity_months"]))
    earned_at = min(now, month_end)
    reached = "spent_kopecks >= goal_kopecks AND spent_kopecks > 0"
    raw_reward = f"(spent_kopecks * {rate} / {divisor})"
    reward = (
        f"CASE WHEN NOT ({reached}) THEN 0 "
        f"WHEN {raw_reward} > {cap} THEN {cap} ELSE {raw_reward} END"
    )
    # On PostgreSQL the claim also draws the lot id of every reward that can take the
    # set-based path (no debt on the account), so the progress rows are written once.
    lot_id = "NULL"
    if not db.is_sqlite() and expires_at > now:
        sequence = await db.raw("SELECT pg_get_serial_sequence('lot', 'id') AS name")
        sequence_name = str(sequence[0]["name"]).replace("'", "")
        lot_id = (
            f"CASE WHEN ({reward}) > 0 AND NOT EXISTS (SELECT 1 FROM account "
            "WHERE account.id = offer_goal_month.account_id AND account.debt > 0) "
            f"THEN nextval('{sequence_name}') END"
        )
    await db.raw(
        "UPDATE offer_goal_month SET status = 'settled', settled_at = {}, "
        f"outcome = CASE WHEN {reached} THEN 'reached' ELSE 'missed' END, "
        f"reward_points = {reward}, lot_id = {lot_id} "
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
    counts = {"settled": 0, "reached": 0, "missed": 0, "points": 0}
    for item in summary:
        counts[item["outcome"]] += int(item["n"])
        counts["settled"] += int(item["n"])
        counts["points"] += int(item["points"])
    reason = f"cashback for {month}: offer {offer_id}"
    if expires_at > now:
        await _credit_without_debt(offer_id, month, now=now, expires_at=expires_at)
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
    # Accounts that owe points (a return found its points spent) take the general path,
    # which repays the debt from the new lot first; they are few.
    owing = await db.raw(
        "SELECT id, account_id, reward_points FROM offer_goal_month "
        f"WHERE {_MONTH_ROWS} AND reward_points > 0 AND lot_id IS NULL ORDER BY account_id",
        offer_id,
        month,
        now,
    )
    for item in owing:
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
    await _queue_pass_updates(offer_id, month, now=now)
    await platform.enqueue(
        kind="offers.notify",
        payload={"offer_id": offer_id, "month": month},
        dedupe_key=f"offers:notify:{offer_id}:{month}",
    )
    return counts


async def _credit_without_debt(
    offer_id: int, month: str, *, now: datetime, expires_at: datetime
) -> None:
    """Add each reward that has a lot id to its account's balance, in one grouped UPDATE.

    A return that added debt between the claim and this statement leaves the debt to be
    repaid from the next points earned: nothing is created or lost either way.
    """
    next_event = (
        "CASE WHEN account.next_lot_event_at IS NULL OR account.next_lot_event_at > {} "
        "THEN {} ELSE account.next_lot_event_at END"
    )
    if db.is_sqlite():
        # One writer at a time on SQLite: ids after the current maximum are free.
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
        f"next_lot_event_at = {next_event} FROM offer_goal_month g "
        "WHERE g.account_id = account.id AND g.offer_id = {} AND g.month = {} "
        "AND g.status = 'settled' AND g.settled_at = {} AND g.lot_id IS NOT NULL",
        expires_at,
        expires_at,
        offer_id,
        month,
        now,
    )


async def _queue_pass_updates(offer_id: int, month: str, *, now: datetime) -> None:
    """One waiting pass update per account, written set-based (the same rows
    ``platform.enqueue_pass_update`` writes one at a time)."""
    payload = (
        "json_object('account_id', account_id)"
        if db.is_sqlite()
        else "json_build_object('account_id', account_id)"
    )
    moment = clock.now()
    await db.raw(
        "INSERT INTO outbox_job (kind, dedupe_key, payload, status, attempts, due_at, "
        "last_error, created_at, updated_at) "
        f"SELECT 'pass_update', 'pass:account:' || account_id, {payload}, 'pending', 0, "
        "{}, '', {}, {} "
        f"FROM offer_goal_month WHERE {_MONTH_ROWS} "
        "ON CONFLICT (dedupe_key) DO NOTHING",
        moment,
        moment,
        moment,
        offer_id,
        month,
        now,
    )


async def unnotified(offer_id: int, month: str, *, limit: int) -> list[dict[str, Any]]:
    return await db.raw(
        "SELECT id, account_id, outcome, reward_points, goal_kopecks, spent_kopecks, lot_id "
        "FROM offer_goal_month WHERE offer_id = {} AND month = {} AND status = 'settled' "
        "AND notified = false ORDER BY id LIMIT {}",
        offer_id,
        month,
        limit,
    )
