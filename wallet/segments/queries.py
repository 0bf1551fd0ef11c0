"""Every hand-written statement of segments, named (``$n`` placeholders; see ``db.sql``).

A segment's audience is SQL over ``FROM_AUDIENCE`` composed per filter: ``audience_where``
writes the WHERE clause, numbering its values with the caller's ``db.Params``, so a caller
(campaigns' delivery INSERT ... SELECT) can put its own values before and after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wallet import db
from wallet.rules.schemas import TierBand
from wallet.segments.schemas import SegmentFilter

FROM_AUDIENCE = (
    "FROM member m JOIN account a ON a.id = m.account "
    "LEFT JOIN rfm_score r ON r.account_id = m.account"
)
"""Shoppers (members) and their account; the RFM score is optional (not yet scored)."""


def in_list(p: db.Params, values: Iterable[Any]) -> str:
    return "(" + ", ".join(p(value) for value in values) + ")"


def tier_where(p: db.Params, bands: Iterable[TierBand], names: list[str], *, column: str) -> str:
    """Cards in any of the named tiers, from ``Rules.tier_bands`` (the ranges
    ``Rules.tier_for`` reads too; a test pins the two on both engines)."""
    ranges: list[str] = []
    for band in bands:
        if band.tier.name not in names:
            continue
        bounds = []
        if band.low is not None:
            bounds.append(f"{column} >= {p(band.low)}")
        if band.high is not None:
            bounds.append(f"{column} < {p(band.high)}")
        ranges.append("(" + " AND ".join(bounds or ["1 = 1"]) + ")")
    return "(" + " OR ".join(ranges) + ")"


def _date_part(part: str, column: str) -> str:
    # No spelling of a date's month or day is common to both engines.
    if db.is_sqlite():
        return f"CAST(strftime('%{'m' if part == 'month' else 'd'}', {column}) AS INTEGER)"
    return f"EXTRACT({part.upper()} FROM {column})"


_GOAL_STATES = {
    "in_progress": "(g.status = 'open' AND g.spent_kopecks < g.goal_kopecks)",
    "reached": (
        "(g.outcome = 'reached' OR (g.status = 'open' AND g.spent_kopecks >= g.goal_kopecks))"
    ),
    "missed": "(g.status = 'settled' AND g.outcome = 'missed')",
}

# Pass sync's tables, read set-based: a device registration of any card's serial is Apple,
# a saved Google object of any card is Google.
_APPLE = (
    "EXISTS (SELECT 1 FROM card c JOIN pass_registration pr ON pr.serial = c.pass_serial "
    "WHERE c.account = m.account)"
)
_GOOGLE = (
    "EXISTS (SELECT 1 FROM card c JOIN google_object gob ON gob.card_id = c.id "
    "WHERE c.account = m.account)"
)
_WALLETS = {"apple": _APPLE, "google": _GOOGLE, "none": f"(NOT {_APPLE} AND NOT {_GOOGLE})"}
HOLDS_A_PASS = f"({_APPLE} OR {_GOOGLE})"
"""The shopper (``m`` of ``FROM_AUDIENCE``) holds a pass in Apple or Google Wallet."""


def audience_where(
    p: db.Params,
    flt: SegmentFilter,
    *,
    now: datetime,
    tiers: str | None,
    join_store_ids: list[int],
    last_store_ids: list[int],
    goal_month: str,
    any_of: list[str] | None = None,
) -> str:
    """The filter as a WHERE clause over ``FROM_AUDIENCE``; every value is a parameter.
    What needs the database or the rules first comes resolved: ``tiers`` (``tier_where``),
    the stores' ids, the goal month, and ``any_of``'s groups (each group's own WHERE)."""
    parts: list[str] = ["1 = 1"]
    add = parts.append
    if tiers is not None:
        add(tiers)
    if flt.balance_min is not None:
        add(f"a.balance >= {p(flt.balance_min)}")
    if flt.balance_max is not None:
        add(f"a.balance <= {p(flt.balance_max)}")
    if flt.burning_points_min is not None:
        add(
            "(SELECT COALESCE(SUM(l.remaining), 0) FROM lot l WHERE l.account = m.account "
            f"AND l.remaining > 0 AND l.expires_at > {p(now)} "
            f"AND l.expires_at <= {p(now + timedelta(days=flt.burning_within_days))}) "
            f">= {p(flt.burning_points_min)}"
        )
    if flt.last_purchase_within_days is not None:
        add(
            "EXISTS (SELECT 1 FROM receipt rc WHERE rc.account_id = m.account "
            f"AND rc.occurred_at >= {p(now - timedelta(days=flt.last_purchase_within_days))})"
        )
    if flt.last_purchase_before_days is not None:
        add(
            "EXISTS (SELECT 1 FROM receipt rc WHERE rc.account_id = m.account) AND NOT EXISTS "
            "(SELECT 1 FROM receipt rc WHERE rc.account_id = m.account AND rc.occurred_at >= "
            f"{p(now - timedelta(days=flt.last_purchase_before_days))})"
        )
    if flt.never_purchased is not None:
        exists = "EXISTS (SELECT 1 FROM receipt rc WHERE rc.account_id = m.account)"
        add(f"NOT {exists}" if flt.never_purchased else exists)
    window_start = now - timedelta(days=flt.window_days)

    def purchases() -> str:
        return (
            "(SELECT COUNT(*) FROM receipt rc WHERE rc.account_id = m.account "
            f"AND rc.occurred_at >= {p(window_start)})"
        )

    def spend() -> str:
        # Spend is what was paid with money (points are not spend), as tiers count it.
        return (
            "(SELECT COALESCE(SUM(rc.paid_kopecks), 0) FROM receipt rc "
            f"WHERE rc.account_id = m.account AND rc.occurred_at >= {p(window_start)})"
        )

    if flt.purchases_min is not None:
        add(f"{purchases()} >= {p(flt.purchases_min)}")
    if flt.purchases_max is not None:
        add(f"{purchases()} <= {p(flt.purchases_max)}")
    if flt.spend_min_kopecks is not None:
        add(f"{spend()} >= {p(flt.spend_min_kopecks)}")
    if flt.spend_max_kopecks is not None:
        add(f"{spend()} <= {p(flt.spend_max_kopecks)}")
    if flt.rfm_groups:
        add("r.rfm_group IN " + in_list(p, flt.rfm_groups))
    if flt.birthday_month is not None:
        add(f"{_date_part('month', 'm.birthday')} = {p(flt.birthday_month)}")
    if join_store_ids:
        add("m.join_store_id IN " + in_list(p, join_store_ids))
    if last_store_ids:
        add(
            "(SELECT rc.store FROM receipt rc WHERE rc.account_id = m.account "
            "ORDER BY rc.occurred_at DESC, rc.id DESC LIMIT 1) IN " + in_list(p, last_store_ids)
        )
    if flt.marketing_email is not None:
        add(f"m.marketing_email = {p(flt.marketing_email)}")
    if flt.marketing_push is not None:
        add(f"m.marketing_push = {p(flt.marketing_push)}")
    if flt.marketing_sms is not None:
        add(f"m.marketing_sms = {p(flt.marketing_sms)}")
    if flt.joined_after is not None:
        add(f"m.created_at >= {p(flt.joined_after)}")
    if flt.joined_before is not None:
        add(f"m.created_at < {p(flt.joined_before)}")
    if flt.wallets:
        add("(" + " OR ".join(_WALLETS[w] for w in dict.fromkeys(flt.wallets)) + ")")
    if flt.cashback_opted_in is not None:
        opted = (
            "EXISTS (SELECT 1 FROM offer_enrolment oe WHERE oe.account_id = m.account "
            "AND oe.status = 'active')"
        )
        add(opted if flt.cashback_opted_in else f"NOT {opted}")
    if flt.goal_statuses:
        add(
            "EXISTS (SELECT 1 FROM offer_goal_month g WHERE g.account_id = m.account "
            f"AND g.month = {p(goal_month)} AND ("
            + " OR ".join(_GOAL_STATES[s] for s in dict.fromkeys(flt.goal_statuses))
            + "))"
        )
    if flt.birthday_day is not None:
        add(f"{_date_part('day', 'm.birthday')} = {p(flt.birthday_day)}")
    if any_of:
        add("(" + " OR ".join(f"({group})" for group in any_of) + ")")
    return " AND ".join(parts)


def audience_count(where: str) -> str:
    return f"SELECT COUNT(*) AS n {FROM_AUDIENCE} WHERE {where}"


def audience_sample(p: db.Params, where: str, size: int) -> db.Sql:
    """The first shoppers of an audience, for the preview: with the account's first card
    and its last purchase, as a marketer checks a segment by eye."""
    return db.sql(
        "SELECT m.account AS account_id, m.id AS member_id, m.name, m.email, a.balance, "
        "m.birthday, r.rfm_group, "
        "(SELECT c.number FROM card c WHERE c.account = m.account ORDER BY c.id LIMIT 1) "
        "AS card_number, "
        "(SELECT MAX(rc.occurred_at) FROM receipt rc WHERE rc.account_id = m.account) "
        f"AS last_purchase_at {FROM_AUDIENCE} WHERE {where} ORDER BY m.id LIMIT {p(size)}",
        last_purchase_at=db.timestamp,
    )


def audience_has(p: db.Params, where: str, account_id: int) -> str:
    return f"SELECT 1 AS hit {FROM_AUDIENCE} WHERE {where} AND m.account = {p(account_id)} LIMIT 1"


def audience_accounts(where: str) -> str:
    return f"SELECT m.account AS account_id {FROM_AUDIENCE} WHERE {where} ORDER BY m.account"


def segments_by_id(p: db.Params, ids: list[int], *, lock: bool) -> db.Sql:
    """Saved segments; ``lock`` holds their rows to the end of the transaction (PostgreSQL;
    SQLite's write transaction holds the whole file): an offer saved with a segment and the
    segment's deletion then happen one after the other, so neither misses the other."""
    text = (
        "SELECT id, name, filter, created_by, created_at, updated_at FROM segment "
        f"WHERE id IN {in_list(p, ids)} ORDER BY id"
    )
    return db.sql(text + " {lock}", lock="FOR UPDATE") if lock else db.sql(text)


def burning_points(p: db.Params, account_ids: list[int], now: datetime, until: datetime) -> db.Sql:
    """Per account, points burning in (now, until] and the first moment they burn."""
    text = (
        "SELECT l.account AS account_id, SUM(l.remaining) AS points, MIN(l.expires_at) AS first "
        f"FROM lot l WHERE l.remaining > 0 AND l.expires_at > {p(now)} "
        f"AND l.expires_at <= {p(until)} AND l.account IN {in_list(p, account_ids)} "
        "GROUP BY l.account"
    )
    return db.sql(text, first=db.timestamp)


def recipients(p: db.Params, account_ids: list[int]) -> str:
    """What a message needs to know about each recipient (campaigns' batches)."""
    return (
        "SELECT m.account AS account_id, m.id AS member_id, m.name, m.email, "
        "m.marketing_email, m.marketing_push, m.marketing_sms, m.phone, m.language, a.balance "
        f"FROM member m JOIN account a ON a.id = m.account WHERE m.account IN "
        f"{in_list(p, account_ids)}"
    )


DELETE_RFM = db.sql("DELETE FROM rfm_score")

# The usual RFM map over recency and frequency quintiles (after "new", which comes first).
_RFM_MAP = (
    "WHEN q.r >= 4 AND q.f >= 4 THEN 'champions' "
    "WHEN q.r >= 3 AND q.f >= 3 THEN 'loyal' "
    "WHEN q.r <= 2 AND q.f >= 3 THEN 'at_risk' "
    "WHEN q.r = 2 THEN 'hibernating' "
    "WHEN q.r = 1 THEN 'lost' "
    "ELSE 'others' END"
)

SCORE_RFM = db.sql(
    """
INSERT INTO rfm_score (account_id, r, f, m, frequency, monetary_kopecks, last_purchase_at,
                       rfm_group, scored_at)
SELECT q.account_id, q.r, q.f, q.mq, q.frequency, q.monetary, q.last_at,
       CASE WHEN q.first_at >= $1 THEN 'new' {rfm_map},
       $2
FROM (
  SELECT s.account_id, s.frequency, s.monetary, s.last_at, s.first_at,
         NTILE(5) OVER (ORDER BY s.last_at, s.account_id) AS r,
         NTILE(5) OVER (ORDER BY s.frequency, s.monetary, s.account_id) AS f,
         NTILE(5) OVER (ORDER BY s.monetary, s.account_id) AS mq
  FROM (
    SELECT rc.account_id,
           SUM(CASE WHEN rc.occurred_at >= $3 THEN 1 ELSE 0 END) AS frequency,
           SUM(CASE WHEN rc.occurred_at >= $3 THEN rc.paid_kopecks ELSE 0 END) AS monetary,
           MAX(rc.occurred_at) AS last_at,
           MIN(rc.occurred_at) AS first_at
    FROM receipt rc
    WHERE rc.account_id IN (SELECT account FROM member)
    GROUP BY rc.account_id
    HAVING MAX(rc.occurred_at) >= $3
  ) s
) q
""".replace("{rfm_map}", _RFM_MAP)
)
"""Quintiles over the shoppers who bought in the window starting at $3 (5 = most recent,
most frequent, most spent), named after the usual RFM map; $1: a first purchase since then
makes a shopper "new"; $2: the scoring time. Ties are broken by account id so a run is
reproducible."""

SCORE_RFM_REST = db.sql("""
INSERT INTO rfm_score (account_id, r, f, m, frequency, monetary_kopecks, last_purchase_at,
                       rfm_group, scored_at)
SELECT mb.account, 0, 0, 0, 0, 0,
       (SELECT MAX(x.occurred_at) FROM receipt x WHERE x.account_id = mb.account),
       CASE WHEN MIN(mb.created_at) >= $1 THEN 'new' ELSE 'lost' END,
       $2
FROM member mb
WHERE NOT EXISTS (SELECT 1 FROM rfm_score s WHERE s.account_id = mb.account)
GROUP BY mb.account
""")
"""Members with no purchase in the window: new if they joined since $1, else lost."""

RFM_GROUPS = db.sql("SELECT rfm_group, COUNT(*) AS n FROM rfm_score GROUP BY rfm_group")

RFM_OF_ACCOUNT = db.sql("SELECT r, f, m, rfm_group FROM rfm_score WHERE account_id = $1")

# ---- month-end standings (tier and RFM group per account) ---------------------------------


@dataclass(frozen=True)
class StandingAt:
    """What ``standing_select`` needs to place every account at one moment: ``end`` (the
    month end, or now), ``month`` (the last month whose spend counts, "YYYY-MM"), the tier
    ladder then and what it qualifies on, and the RFM window (``window``: a year before
    ``end``; ``new_since``: a first purchase or joining after it makes a shopper "new").
    ``live``: now, when the account's own lifetime spend counts (every receipt so far)."""

    end: datetime
    month: str
    bands: list[TierBand]
    basis: str
    first_month: str | None
    this_year: str
    last_year: str
    window: datetime
    new_since: datetime
    live: bool


def _tier_case(p: db.Params, bands: list[TierBand], qualifying: str, *, floor: bool) -> str:
    """The tier's name (or its threshold, ``floor``) for ``qualifying``: the first band whose
    upper bound is above it (``Rules.tier_bands`` are disjoint and ascending)."""

    def value(band: TierBand) -> str:
        if floor:
            return f"CAST({p(band.tier.min_spend_kopecks)} AS BIGINT)"
        return f"CAST({p(band.tier.name)} AS VARCHAR(100))"

    whens = " ".join(
        f"WHEN {qualifying} < {p(band.high)} THEN {value(band)}"
        for band in bands
        if band.high is not None
    )
    last = value(bands[-1])
    return f"CASE {whens} ELSE {last} END" if whens else last


def standing_select(p: db.Params, at: StandingAt) -> str:
    """Every account that existed at ``at.end`` with its tier (name and threshold) and RFM
    group then: ``account_id, tier, tier_floor_kopecks, rfm_group``.

    The tier as ``Rules.standing`` computes it, from the spend months up to ``at.month``
    (lifetime, a rolling window or the better of this and last calendar year). The RFM
    group as the nightly scoring (``SCORE_RFM``, ``SCORE_RFM_REST``) names it, over the
    receipts before ``at.end`` of those who were shoppers then; NULL for an account with no
    shopper. Everything is read as it was at ``at.end``, so an earlier month end can be
    recorded later (``wallet record-standings``) and come out the same.

    ``at.live`` (now, for a report): the group is the last nightly scoring's (``rfm_score``;
    a shopper who joined since is "new", as the next scoring will say), because scoring a
    million shoppers again took 15 s (bench/bench_standings.py) where a report has 5."""
    end = p(at.end)
    lifetime = "a.lifetime_spend_kopecks" if at.live else "COALESCE(sp.lifetime, 0)"
    if at.basis == "rolling":
        qualifying, since = "COALESCE(sp.window_spend, 0)", at.first_month or at.month
    elif at.basis == "calendar":
        qualifying = (
            "(CASE WHEN COALESCE(sp.this_year, 0) > COALESCE(sp.last_year, 0) "
            "THEN COALESCE(sp.this_year, 0) ELSE COALESCE(sp.last_year, 0) END)"
        )
        since = at.last_year
    else:
        qualifying, since = lifetime, "0000-00"
    tier = _tier_case(p, at.bands, qualifying, floor=False)
    floor = _tier_case(p, at.bands, qualifying, floor=True)
    spend = ""
    if not (at.live and qualifying == lifetime):
        month, first, low = p(at.month), p(at.first_month or at.month), p(since)
        this_year, last_year = p(at.this_year), p(at.last_year)
        spend = (
            "LEFT JOIN (SELECT account_id, SUM(spent_kopecks) AS lifetime, "
            f"SUM(CASE WHEN month >= {first} THEN spent_kopecks ELSE 0 END) AS window_spend, "
            f"SUM(CASE WHEN month >= {this_year} THEN spent_kopecks ELSE 0 END) AS this_year, "
            f"SUM(CASE WHEN month >= {last_year} AND month < {this_year} "
            "THEN spent_kopecks ELSE 0 END) AS last_year "
            f"FROM account_spend_month WHERE month <= {month} AND month >= {low} "
            "GROUP BY account_id) sp ON sp.account_id = a.id "
        )
    if at.live:
        return (
            f"SELECT a.id AS account_id, {tier} AS tier, {floor} AS tier_floor_kopecks, "
            "COALESCE(r.rfm_group, CASE WHEN EXISTS "
            "(SELECT 1 FROM member m WHERE m.account = a.id) THEN 'new' END) AS rfm_group "
            f"FROM account a {spend}LEFT JOIN rfm_score r ON r.account_id = a.id "
            f"WHERE a.created_at < {end}"
        )
    window, new_since = p(at.window), p(at.new_since)
    shoppers = f"SELECT account FROM member WHERE created_at < {end}"
    return (
        f"SELECT a.id AS account_id, {tier} AS tier, {floor} AS tier_floor_kopecks, "
        "CASE WHEN mb.account_id IS NULL THEN NULL "
        f"WHEN q.account_id IS NULL THEN (CASE WHEN mb.joined >= {new_since} "
        "THEN 'new' ELSE 'lost' END) "
        f"WHEN q.first_at >= {new_since} THEN 'new' {_RFM_MAP} AS rfm_group "
        f"FROM account a {spend}"
        "LEFT JOIN (SELECT account AS account_id, MIN(created_at) AS joined FROM member "
        f"WHERE created_at < {end} GROUP BY account) mb ON mb.account_id = a.id "
        "LEFT JOIN (SELECT s.account_id, s.first_at, "
        "NTILE(5) OVER (ORDER BY s.last_at, s.account_id) AS r, "
        "NTILE(5) OVER (ORDER BY s.frequency, s.monetary, s.account_id) AS f "
        "FROM (SELECT rc.account_id, "
        f"SUM(CASE WHEN rc.occurred_at >= {window} THEN 1 ELSE 0 END) AS frequency, "
        f"SUM(CASE WHEN rc.occurred_at >= {window} THEN rc.paid_kopecks ELSE 0 END) "
        "AS monetary, MAX(rc.occurred_at) AS last_at, MIN(rc.occurred_at) AS first_at "
        f"FROM receipt rc WHERE rc.occurred_at < {end} AND rc.account_id IN ({shoppers}) "
        f"GROUP BY rc.account_id HAVING MAX(rc.occurred_at) >= {window}) s) q "
        "ON q.account_id = a.id "
        f"WHERE a.created_at < {end}"
    )


START_MONTH = db.sql(
    "INSERT INTO standing_month (month, as_of, accounts, recorded_at) VALUES ($1, $2, 0, $3) "
    "ON CONFLICT (month) DO NOTHING RETURNING id"
)
"""The month end's marker, first in the recording transaction: no row back means the month
is recorded already (or another worker is recording it: PostgreSQL makes this insert wait
for that transaction and then do nothing), so the rest is skipped."""


def record_standings(p: db.Params, at: StandingAt, previous: str) -> str:
    """Every account's standing at ``at.end`` as month ``at.month``, beside the one it had at
    the month end ``previous`` (if recorded), in one INSERT ... SELECT. A row already there is
    left as it is (the unique (month, account_id)), so a rerun writes nothing twice."""
    standing = standing_select(p, at)
    month, before = p(at.month), p(previous)
    return (
        "INSERT INTO account_standing_month (month, account_id, tier, tier_floor_kopecks, "
        "rfm_group, prev_tier, prev_floor_kopecks, prev_rfm_group) "
        f"SELECT {month}, s.account_id, s.tier, s.tier_floor_kopecks, s.rfm_group, "
        "b.tier, b.tier_floor_kopecks, b.rfm_group "
        f"FROM ({standing}) s LEFT JOIN account_standing_month b ON b.month = {before} "
        "AND b.account_id = s.account_id "
        # SQLite needs a WHERE before ON CONFLICT in an INSERT ... SELECT (its parser would
        # read the ON as a join's).
        "WHERE 1 = 1 ON CONFLICT (month, account_id) DO NOTHING"
    )


COUNT_MOVES = db.sql(
    "INSERT INTO standing_month_moves (month, prev_tier, prev_floor_kopecks, tier, "
    "tier_floor_kopecks, prev_rfm_group, rfm_group, accounts) "
    "SELECT month, prev_tier, prev_floor_kopecks, tier, tier_floor_kopecks, prev_rfm_group, "
    "rfm_group, COUNT(*) FROM account_standing_month WHERE month = $1 "
    "GROUP BY month, prev_tier, prev_floor_kopecks, tier, tier_floor_kopecks, prev_rfm_group, "
    "rfm_group"
)
"""A recorded month's standings counted by (before, after), what the reports read."""

FINISH_MONTH = db.sql(
    "UPDATE standing_month SET accounts = "
    "(SELECT COALESCE(SUM(accounts), 0) FROM standing_month_moves WHERE month = $1) "
    "WHERE month = $1"
)

ANALYZE_STANDINGS = db.sql("ANALYZE account_standing_month")
"""PostgreSQL only: fresh statistics after a month's rows went in."""

RECORDED_MONTHS = db.sql(
    "SELECT month, as_of, accounts FROM standing_month WHERE month >= $1 AND month <= $2 "
    "ORDER BY month",
    as_of=db.timestamp,
)

MONTH_MOVES = db.sql(
    "SELECT month, prev_tier, prev_floor_kopecks, tier, tier_floor_kopecks, prev_rfm_group, "
    "rfm_group, accounts FROM standing_month_moves WHERE month >= $1 AND month <= $2"
)
"""The recorded months' counts by (before, after) tier and group."""


def moves_now(p: db.Params, at: StandingAt, previous: str) -> str:
    """``MONTH_MOVES``'s shape for now, computed live: every account's standing now beside
    its record at the month end ``previous``."""
    standing = standing_select(p, at)
    before = p(previous)
    return (
        "SELECT b.tier AS prev_tier, b.tier_floor_kopecks AS prev_floor_kopecks, s.tier, "
        "s.tier_floor_kopecks, b.rfm_group AS prev_rfm_group, s.rfm_group, "
        f"COUNT(*) AS accounts FROM ({standing}) s LEFT JOIN account_standing_month b "
        f"ON b.month = {before} AND b.account_id = s.account_id "
        "GROUP BY b.tier, b.tier_floor_kopecks, s.tier, s.tier_floor_kopecks, b.rfm_group, "
        "s.rfm_group"
    )
