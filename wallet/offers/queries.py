"""Every hand-written statement of offers (cashback goals and their settlement), named
(``$n`` placeholders; see ``db.sql``). Statements composed from parts (a month's terms, an
account range) are functions that number their arguments with ``db.Params``."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from wallet import db
from wallet.ledger import bulk

OPEN_MONTH_SPANS = db.sql(
    "SELECT offer_id, MIN(account_id) AS low, MAX(account_id) AS high, COUNT(*) AS n "
    "FROM offer_goal_month WHERE month = $1 AND status = 'open' "
    "GROUP BY offer_id ORDER BY offer_id"
)
"""Each offer with open rows in a month, and where its rows lie (one scan for all offers):
settlement cuts each offer's month into account ranges from it."""

SETTLEMENT_PLAN_SETTINGS = (
    db.sql("SET LOCAL enable_nestloop = off"),
    db.sql("SET LOCAL work_mem = '64MB'"),
    db.sql("SET LOCAL jit = off"),
)
"""PostgreSQL, for one range's transaction: the plans join a million rows to a million,
so hash joins, memory to hold them, and no JIT (it compiled for 0.45 s of a 3 s statement
at 100,000 rows)."""

SET_GOAL_LOT = db.sql("UPDATE offer_goal_month SET lot_id = $1 WHERE id = $2")
"""The lot a progress row's reward became, when it was credited one by one (debt)."""


def _month_rows(p: db.Params, offer_id: int, month: str, settled_at: datetime) -> str:
    """The rows one run settled: a rerun finds none open, so it never shares this marker."""
    return (
        f"offer_id = {p(offer_id)} AND month = {p(month)} AND status = 'settled' "
        f"AND settled_at = {p(settled_at)}"
    )


def settle_in_one_statement(
    *,
    outcome: str,
    reward: str,
    lot_id: str,
    offer_id: int,
    month: str,
    now: datetime,
    credit: bulk.Credit,
    accounts: bulk.Range,
) -> tuple[str, list[Any]]:
    """PostgreSQL: claim a range's open rows and credit their rewards in one statement (see
    ``settlement``); per outcome its count, points and the rows that owe points (JSON)."""
    p = db.Params()
    claim = (
        f"UPDATE offer_goal_month SET status = 'settled', settled_at = {p(now)}, "
        f"outcome = {outcome}, reward_points = {reward}, lot_id = {lot_id} "
        f"WHERE offer_id = {p(offer_id)} AND month = {p(month)} AND status = 'open'"
        f"{bulk.in_range('account_id', accounts)} "
        "RETURNING id, account_id, outcome, reward_points, lot_id"
    )
    ctes = bulk.credit_ctes(
        p,
        "claimed",
        credit,
        lot="lot_id",
        account="account_id",
        points="reward_points",
        accounts=accounts,
    )
    text = (
        f"WITH claimed AS ({claim}), {ctes} "
        "SELECT outcome, COUNT(*) AS n, COALESCE(SUM(reward_points), 0) AS points, "
        "json_agg(json_build_object('id', id, 'account_id', account_id, "
        "'reward_points', reward_points)) "
        "FILTER (WHERE reward_points > 0 AND lot_id IS NULL) AS owing "
        "FROM claimed GROUP BY outcome"
    )
    return text, p.values


def claim_open_rows(
    *, outcome: str, reward: str, offer_id: int, month: str, now: datetime
) -> tuple[str, list[Any]]:
    """SQLite (or a reward already expired): the month's open rows settled, no lot yet."""
    p = db.Params()
    return (
        f"UPDATE offer_goal_month SET status = 'settled', settled_at = {p(now)}, "
        f"outcome = {outcome}, reward_points = {reward}, lot_id = NULL "
        f"WHERE offer_id = {p(offer_id)} AND month = {p(month)} AND status = 'open'"
    ), p.values


def settled_summary(offer_id: int, month: str, now: datetime) -> tuple[str, list[Any]]:
    """Per outcome, the count and points of the rows one run settled."""
    p = db.Params()
    return (
        "SELECT outcome, COUNT(*) AS n, COALESCE(SUM(reward_points), 0) AS points "
        f"FROM offer_goal_month WHERE {_month_rows(p, offer_id, month, now)} GROUP BY outcome"
    ), p.values


def number_new_lots(
    last_lot_id: int, offer_id: int, month: str, now: datetime
) -> tuple[str, list[Any]]:
    """SQLite: lot ids after the current maximum for the settled rows with a reward and no
    debt (one writer at a time, so those ids are free)."""
    p = db.Params()
    return (
        f"UPDATE offer_goal_month SET lot_id = {p(last_lot_id)} + numbered.rn FROM ("
        "SELECT g.id, ROW_NUMBER() OVER (ORDER BY g.id) AS rn FROM offer_goal_month g "
        f"WHERE g.offer_id = {p(offer_id)} AND g.month = {p(month)} AND g.status = 'settled' "
        f"AND g.settled_at = {p(now)} AND g.reward_points > 0 "
        f"AND {bulk.owes_nothing('g.account_id')}"
        ") AS numbered WHERE offer_goal_month.id = numbered.id"
    ), p.values


def rows_to_credit(offer_id: int, month: str, now: datetime) -> tuple[str, list[Any]]:
    """SQLite: the rows ``ledger.bulk.credit_in_steps`` credits (lot, account, points)."""
    p = db.Params()
    return (
        "SELECT lot_id, account_id, reward_points AS points FROM offer_goal_month "
        f"WHERE {_month_rows(p, offer_id, month, now)}"
    ), p.values


def credited_in_bulk(
    offer_id: int, month: str, now: datetime, accounts: bulk.Range
) -> tuple[str, list[Any]]:
    """The rows one run (in one account range) credited set-based: a lot id and points
    (account, points), for ``ledger.bulk.announce``. Read before the accounts that owe
    points get their lot through the door, which tells of them itself."""
    p = db.Params()
    return (
        "SELECT account_id, reward_points AS points FROM offer_goal_month "
        f"WHERE {_month_rows(p, offer_id, month, now)} AND reward_points > 0 "
        f"AND lot_id IS NOT NULL{bulk.in_range('account_id', accounts)}"
    ), p.values


def owing_rows(offer_id: int, month: str, now: datetime) -> tuple[str, list[Any]]:
    """Settled rows with a reward but no lot: their accounts owe points, so they are
    credited one by one through the ledger's door, which repays the debt first."""
    p = db.Params()
    return (
        "SELECT id, account_id, reward_points FROM offer_goal_month "
        f"WHERE {_month_rows(p, offer_id, month, now)} AND reward_points > 0 AND lot_id IS NULL"
    ), p.values


def settled_with_pass(
    *,
    offer_id: int,
    month: str,
    settled_at: datetime,
    after: int,
    limit: int,
    accounts: bulk.Range,
    has_pass: str,
) -> tuple[str, list[Any]]:
    """A batch of one run's settled rows whose account has a pass (``has_pass``), in id
    order after ``after``: the pass-update job rebuilds those passes."""
    p = db.Params()
    return (
        "SELECT g.id, g.account_id FROM offer_goal_month g "
        f"WHERE g.offer_id = {p(offer_id)} AND g.month = {p(month)} AND g.status = 'settled' "
        f"AND g.settled_at = {p(settled_at)} AND g.id > {p(after)}"
        f"{bulk.in_range('g.account_id', accounts)} "
        f"AND {has_pass} ORDER BY g.id LIMIT {p(limit)}"
    ), p.values


def unnotified(
    offer_id: int, month: str, *, limit: int, accounts: bulk.Range
) -> tuple[str, list[Any]]:
    """Settled rows whose shopper has not been told the outcome yet, oldest first."""
    p = db.Params()
    return (
        "SELECT id, account_id, outcome, reward_points, goal_kopecks, spent_kopecks, lot_id "
        f"FROM offer_goal_month WHERE offer_id = {p(offer_id)} AND month = {p(month)} "
        f"AND status = 'settled' AND notified = false{bulk.in_range('account_id', accounts)} "
        f"ORDER BY id LIMIT {p(limit)}"
    ), p.values


def _in_list(p: db.Params, values: list[Any]) -> str:
    return "(" + ", ".join(p(value) for value in values) + ")"


def spend_by_card(
    account_id: int, months: list[str], categories: list[str]
) -> tuple[str, list[Any]]:
    """Money paid per month and card in the offer's categories (all when none): what a
    goal is made from."""
    p = db.Params()
    text = (
        "SELECT month, card_id, SUM(paid_kopecks) AS paid FROM offer_spend_month "
        f"WHERE account_id = {p(account_id)} AND month IN {_in_list(p, months)}"
    )
    if categories:
        text += f" AND category IN {_in_list(p, categories)}"
    return text + " GROUP BY month, card_id", p.values


def month_spend(account_id: int, month: str, categories: list[str]) -> tuple[str, list[Any]]:
    """Money paid in one month in the offer's categories (all when none)."""
    p = db.Params()
    text = (
        "SELECT COALESCE(SUM(paid_kopecks), 0) AS paid FROM offer_spend_month "
        f"WHERE account_id = {p(account_id)} AND month = {p(month)}"
    )
    if categories:
        text += f" AND category IN {_in_list(p, categories)}"
    return text, p.values


OTHER_ACTIVE_ENROLMENTS = db.sql(
    "SELECT e.offer AS offer_id, o.renews_monthly, o.status, o.starts_at, o.ends_at, "
    "g.id AS goal_id FROM offer_enrolment e JOIN offer o ON o.id = e.offer "
    "LEFT JOIN offer_goal_month g ON g.enrolment_id = e.id AND g.month = $1 "
    "WHERE e.account_id = $2 AND e.status = 'active' AND e.offer != $3"
)
"""A shopper's other active offers and their goal of the month: one goal a month."""


@functools.cache
def add_spend(count: int) -> db.Sql:
    """Money paid per account, card, month and category for ``count`` categories in one
    statement, added in SQL (no read first): the till's receipt and its return both land
    here inside the till's transaction. The keys must differ (one row per category)."""
    groups = db.rows(count, 6)
    return db.sql(
        "INSERT INTO offer_spend_month "
        "(spend_key, account_id, card_id, month, category, paid_kopecks) "
        f"VALUES {groups} ON CONFLICT (spend_key) DO UPDATE "
        "SET paid_kopecks = offer_spend_month.paid_kopecks + excluded.paid_kopecks"
    )


_ACTIVE_ENROLMENTS = (
    "SELECT e.id AS enrolment_id, e.opted_in_at, o.id AS offer_id, o.categories, "
    "o.renews_monthly, o.counts_whole_month, o.status, o.starts_at, o.ends_at, "
    "g.id AS goal_id, g.counts_from, g.status AS goal_status "
    "FROM offer_enrolment e JOIN offer o ON o.id = e.offer "
    "LEFT JOIN offer_goal_month g ON g.enrolment_id = e.id AND g.month = {month} "
    "WHERE e.account_id = {account} AND e.status = 'active'"
)

ACTIVE_ENROLMENTS = db.sql(
    _ACTIVE_ENROLMENTS.format(month="$1", account="$2"), categories=db.json_value
)
"""A shopper's active offers and their goal of the month, for a receipt to count towards."""


@functools.cache
def add_spend_then_enrolments(count: int) -> db.Sql:
    """PostgreSQL: ``add_spend(count)`` and ``ACTIVE_ENROLMENTS`` (month and account after
    the spend's arguments) in one statement, one round trip of the till's receipt. The
    enrolments do not read the spend, so they are the same whichever runs first."""
    spend = add_spend(count).postgres
    enrolments = _ACTIVE_ENROLMENTS.format(month=f"${6 * count + 1}", account=f"${6 * count + 2}")
    made = db.sql(f"WITH added AS ({spend}) {enrolments}", categories=db.json_value)
    return db.Sql(made.postgres, "", made.decode)


ADD_GOAL_SPEND = db.sql(
    "UPDATE offer_goal_month SET spent_kopecks = spent_kopecks + $1 "
    "WHERE id = $2 AND status = 'open'"
)
"""A receipt's counted money added to an open goal (relative: concurrent receipts add)."""

GOALS_TO_OPEN = db.sql(
    "SELECT e.id, e.account_id, e.offer FROM offer_enrolment e JOIN offer o "
    "ON o.id = e.offer LEFT JOIN offer_goal_month g ON g.enrolment_id = e.id "
    "AND g.month = $1 WHERE e.status = 'active' AND o.renews_monthly "
    "AND o.status = 'active' AND g.id IS NULL"
)
"""Renewing enrolments without the month's goal yet (the month-start job opens them)."""


def mark_notified(ids: list[int]) -> tuple[str, list[Any]]:
    """Progress rows whose outcome email is queued: never told twice."""
    p = db.Params()
    return f"UPDATE offer_goal_month SET notified = true WHERE id IN {_in_list(p, ids)}", p.values


def expiring_batches(
    after: datetime, until: datetime, account_ids: list[int] | None
) -> tuple[str, list[Any]]:
    """Points per account and expiry moment burning in (after, until], available lots only
    (a pending lot that has not matured by ``after`` is not the shopper's yet)."""
    p = db.Params()
    text = (
        "SELECT account, expires_at, SUM(remaining) AS points FROM lot "
        f"WHERE remaining > 0 AND expires_at > {p(after)} AND expires_at <= {p(until)} "
        f"AND (is_pending = false OR available_from <= {p(after)})"
    )
    if account_ids is not None:
        text += f" AND account IN {_in_list(p, account_ids)}"
    return text + " GROUP BY account, expires_at", p.values


_ADD_SPENDS_UPSERT = (
    "ON CONFLICT (spend_key) DO UPDATE "
    "SET paid_kopecks = offer_spend_month.paid_kopecks + excluded.paid_kopecks"
)


def add_spends(rows: int) -> str:
    """SQLite: ``ADD_SPEND`` for ``rows`` (spend_key, account, card, month, category,
    kopecks) at once; the keys must be distinct (an upsert updates a row once a
    statement)."""
    marks = db.rows(rows, 6)
    return (
        "INSERT INTO offer_spend_month "
        f"(spend_key, account_id, card_id, month, category, paid_kopecks) VALUES {marks} "
        f"{_ADD_SPENDS_UPSERT}"
    )


ADD_SPENDS = db.sql(
    "INSERT INTO offer_spend_month "
    "(spend_key, account_id, card_id, month, category, paid_kopecks) "
    "SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], "
    f"$6::bigint[]) {_ADD_SPENDS_UPSERT}"
)
"""PostgreSQL: ``add_spends`` with one array per column."""
