"""Segments: saved filters over shoppers, their preview, and RFM scoring.

A segment is a *read model*. Counting 100,000 shoppers by recency, spend in a window,
burning points and last store one service call at a time would take minutes, so this
module (and only this one) reads the member, card, account, lot and receipt tables, the
cashback enrolments and goals (offers) and the device registrations and saved Google objects
(pass sync) directly with set-based SQL, written for both engines. It never writes them: the
only tables it writes are its own (``segment``, ``rfm_score``). Campaigns get their
audience from here as a SQL fragment (``compile_filter``) so the delivery rows are made in
one INSERT ... SELECT, and their per-recipient context (name, language, balance, burning
points) from ``recipients``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wallet import db
from wallet import settings as settings_module
from wallet.errors import Conflict, InvalidInput, NotFound
from wallet.platform import events
from wallet.rules import service as rules_service
from wallet.rules.schemas import Rules
from wallet.segments.events import SegmentDeleting
from wallet.segments.schemas import (
    RFM_GROUPS,
    PreviewOut,
    RfmGroupCount,
    RfmOut,
    SampleShopper,
    SegmentFilter,
    SegmentIn,
    SegmentOut,
)
from wallet.segments.tables import Segment
from wallet.stores import service as stores

log = logging.getLogger("wallet.segments")

# RFM looks back one year; a first purchase in the last 30 days makes a shopper "new".
RFM_WINDOW = timedelta(days=365)
NEW_SHOPPER = timedelta(days=30)


class SegmentNotFound(NotFound):
    code = "segment_not_found"


class SegmentInUse(Conflict):
    code = "segment_in_use"


# Shoppers (members) and their account; the RFM score is optional (not yet scored).
FROM_SQL = (
    "FROM member m JOIN account a ON a.id = m.account "
    "LEFT JOIN rfm_score r ON r.account_id = m.account"
)


@dataclass
class Compiled:
    """``FROM_SQL`` + ``WHERE where`` with ``args`` for its ``{}`` placeholders."""

    where: str
    args: list[Any]
    ignored: list[str] = field(default_factory=list)


def _in(values: list[Any], args: list[Any]) -> str:
    args.extend(values)
    return "(" + ", ".join("{}" for _ in values) + ")"


def tier_filter(
    rules: Rules, names: list[str], *, column: str = "a.lifetime_spend_kopecks"
) -> tuple[str, list[int]]:
    """Cards in any of the named tiers, as SQL over ``column`` with ``{}`` placeholders.

    Written from ``Rules.tier_bands``, the ranges ``Rules.tier_for`` reads too (a test
    pins the two on both engines); an unknown name is refused with the known ones."""
    bands = rules.tier_bands()
    known = list(dict.fromkeys(band.tier.name for band in bands))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInput(
            f"no tier named {', '.join(unknown)}; tiers are {', '.join(known)}",
            {"tiers": unknown},
        )
    ranges: list[str] = []
    values: list[int] = []
    for band in bands:
        if band.tier.name not in names:
            continue
        bounds = []
        if band.low is not None:
            bounds.append(f"{column} >= {{}}")
            values.append(band.low)
        if band.high is not None:
            bounds.append(f"{column} < {{}}")
            values.append(band.high)
        ranges.append("(" + " AND ".join(bounds or ["1 = 1"]) + ")")
    return "(" + " OR ".join(ranges) + ")", values


async def compile_filter(flt: SegmentFilter, *, now: datetime) -> Compiled:
    """The filter as SQL over ``FROM_SQL``. Every value is a bound parameter."""
    parts: list[str] = ["1 = 1"]
    args: list[Any] = []
    ignored: list[str] = []

    def add(sql: str, *values: Any) -> None:
        parts.append(sql)
        args.extend(values)

    if flt.tiers:
        sql, values = tier_filter(await rules_service.rules_at(now), flt.tiers)
        add(sql, *values)
    if flt.balance_min is not None:
        add("a.balance >= {}", flt.balance_min)
    if flt.balance_max is not None:
        add("a.balance <= {}", flt.balance_max)
    if flt.burning_points_min is not None:
        add(
            "(SELECT COALESCE(SUM(l.remaining), 0) FROM lot l WHERE l.account = m.account "
            "AND l.remaining > 0 AND l.expires_at > {} AND l.expires_at <= {}) >= {}",
            now,
            now + timedelta(days=flt.burning_within_days),
            flt.burning_points_min,
        )
    if flt.last_purchase_within_days is not None:
        add(
            "EXISTS (SELECT 1 FROM receipt rc WHERE rc.account_id = m.account "
            "AND rc.occurred_at >= {})",
            now - timedelta(days=flt.last_purchase_within_days),
        )
    if flt.last_purchase_before_days is not None:
        add(
            "EXISTS (SELECT 1 FROM receipt rc WHERE rc.account_id = m.account) AND NOT EXISTS "
            "(SELECT 1 FROM receipt rc WHERE rc.account_id = m.account AND rc.occurred_at >= {})",
            now - timedelta(days=flt.last_purchase_before_days),
        )
    if flt.never_purchased is not None:
        exists = "EXISTS (SELECT 1 FROM receipt rc WHERE rc.account_id = m.account)"
        parts.append(f"NOT {exists}" if flt.never_purchased else exists)
    window_start = now - timedelta(days=flt.window_days)
    count_sql = (
        "(SELECT COUNT(*) FROM receipt rc WHERE rc.account_id = m.account AND rc.occurred_at >= {})"
    )
    # Spend is what was paid with money (points are not spend), as tiers count it.
    spend_sql = (
        "(SELECT COALESCE(SUM(rc.paid_kopecks), 0) FROM receipt rc "
        "WHERE rc.account_id = m.account AND rc.occurred_at >= {})"
    )
    if flt.purchases_min is not None:
        add(f"{count_sql} >= {{}}", window_start, flt.purchases_min)
    if flt.purchases_max is not None:
        add(f"{count_sql} <= {{}}", window_start, flt.purchases_max)
    if flt.spend_min_kopecks is not None:
        add(f"{spend_sql} >= {{}}", window_start, flt.spend_min_kopecks)
    if flt.spend_max_kopecks is not None:
        add(f"{spend_sql} <= {{}}", window_start, flt.spend_max_kopecks)
    if flt.rfm_groups:
        parts.append("r.rfm_group IN " + _in(list(flt.rfm_groups), args))
    if flt.birthday_month is not None:
        if db.is_sqlite():
            add("CAST(strftime('%m', m.birthday) AS INTEGER) = {}", flt.birthday_month)
        else:
            add("EXTRACT(MONTH FROM m.birthday) = {}", flt.birthday_month)
    if flt.join_stores:
        ids = [(await stores.get_store(code)).id for code in flt.join_stores]
        parts.append("m.join_store_id IN " + _in(ids, args))
    if flt.last_stores:
        ids = [(await stores.get_store(code)).id for code in flt.last_stores]
        parts.append(
            "(SELECT rc.store FROM receipt rc WHERE rc.account_id = m.account "
            "ORDER BY rc.occurred_at DESC, rc.id DESC LIMIT 1) IN " + _in(ids, args)
        )
    if flt.marketing_email is not None:
        add("m.marketing_email = {}", flt.marketing_email)
    if flt.marketing_push is not None:
        add("m.marketing_push = {}", flt.marketing_push)
    if flt.joined_after is not None:
        add("m.created_at >= {}", flt.joined_after)
    if flt.joined_before is not None:
        add("m.created_at < {}", flt.joined_before)
    if flt.wallets:
        # Pass sync's tables, read set-based: a device registration of any card's serial
        # is Apple, a saved Google object of any card is Google.
        apple = (
            "EXISTS (SELECT 1 FROM card c JOIN pass_registration pr ON pr.serial = c.pass_serial "
            "WHERE c.account = m.account)"
        )
        google = (
            "EXISTS (SELECT 1 FROM card c JOIN google_object gob ON gob.card_id = c.id "
            "WHERE c.account = m.account)"
        )
        held = {
            "apple": apple,
            "google": google,
            "none": f"(NOT {apple} AND NOT {google})",
        }
        parts.append("(" + " OR ".join(held[w] for w in dict.fromkeys(flt.wallets)) + ")")
    if flt.cashback_opted_in is not None:
        opted = (
            "EXISTS (SELECT 1 FROM offer_enrolment oe WHERE oe.account_id = m.account "
            "AND oe.status = 'active')"
        )
        parts.append(opted if flt.cashback_opted_in else f"NOT {opted}")
    if flt.goal_statuses:
        local = now.astimezone(settings_module.get().tz)
        month = flt.goal_month or f"{local.year:04d}-{local.month:02d}"
        states = {
            "in_progress": "(g.status = 'open' AND g.spent_kopecks < g.goal_kopecks)",
            "reached": (
                "(g.outcome = 'reached' OR (g.status = 'open' AND g.spent_kopecks >= "
                "g.goal_kopecks))"
            ),
            "missed": "(g.status = 'settled' AND g.outcome = 'missed')",
        }
        add(
            "EXISTS (SELECT 1 FROM offer_goal_month g WHERE g.account_id = m.account "
            "AND g.month = {} AND ("
            + " OR ".join(states[s] for s in dict.fromkeys(flt.goal_statuses))
            + "))",
            month,
        )
    if flt.birthday_day is not None:
        if db.is_sqlite():
            add("CAST(strftime('%d', m.birthday) AS INTEGER) = {}", flt.birthday_day)
        else:
            add("EXTRACT(DAY FROM m.birthday) = {}", flt.birthday_day)
    return Compiled(where=" AND ".join(parts), args=args, ignored=ignored)


async def count(flt: SegmentFilter, *, now: datetime) -> int:
    compiled = await compile_filter(flt, now=now)
    rows = await db.raw(f"SELECT COUNT(*) AS n {FROM_SQL} WHERE {compiled.where}", *compiled.args)
    return int(rows[0]["n"])


async def counts(saved: list[SegmentOut], *, now: datetime) -> dict[int, int | None]:
    """Each saved segment's live count; None for one that fails to count (a segment saved
    before its numbers were bounded), so one bad segment does not take the page down."""
    found: dict[int, int | None] = {}
    for segment in saved:
        try:
            found[segment.id] = await count(segment.filter, now=now)
        except Exception:
            log.exception("segment %s (%r) cannot be counted", segment.id, segment.name)
            found[segment.id] = None
    return found


async def preview(flt: SegmentFilter, *, now: datetime, sample_size: int = 10) -> PreviewOut:
    compiled = await compile_filter(flt, now=now)
    rows = await db.raw(f"SELECT COUNT(*) AS n {FROM_SQL} WHERE {compiled.where}", *compiled.args)
    sample = await db.raw(
        "SELECT m.account AS account_id, m.id AS member_id, m.name, m.email, a.balance, "
        f"m.birthday, r.rfm_group {FROM_SQL} WHERE {compiled.where} ORDER BY m.id LIMIT {{}}",
        *compiled.args,
        sample_size,
    )
    return PreviewOut(
        count=int(rows[0]["n"]),
        sample=[msgspec.convert(row, SampleShopper) for row in sample],
        ignored=compiled.ignored,
    )


async def matches(flt: SegmentFilter, account_id: int, *, now: datetime) -> bool:
    """Whether the account's shopper is in the filter's audience at ``now``: one query,
    the same SQL a campaign's audience is made from (a cashback offer's groups)."""
    compiled = await compile_filter(flt, now=now)
    rows = await db.raw(
        f"SELECT 1 AS hit {FROM_SQL} WHERE {compiled.where} AND m.account = {{}} LIMIT 1",
        *compiled.args,
        account_id,
    )
    return bool(rows)


async def account_ids(flt: SegmentFilter, *, now: datetime) -> list[int]:
    """Every matching account, ordered (tests and small audiences; campaigns stream)."""
    compiled = await compile_filter(flt, now=now)
    rows = await db.raw(
        f"SELECT m.account AS account_id {FROM_SQL} WHERE {compiled.where} ORDER BY m.account",
        *compiled.args,
    )
    return [int(row["account_id"]) for row in rows]


# ---- saved segments ---------------------------------------------------------------------


def _filter_of(value: Any) -> SegmentFilter:
    raw = json.loads(value) if isinstance(value, str) else value
    try:
        return msgspec.convert(raw or {}, SegmentFilter)
    except msgspec.ValidationError as exc:
        # Saved before today's bounds (a number no column holds): keep it listable, so a
        # marketer sees it and deletes or fixes it; counting it fails and says so.
        log.warning("a saved segment's filter no longer validates (%s): %s", exc, raw)
        known = {k: v for k, v in (raw or {}).items() if k in SegmentFilter.__struct_fields__}
        return SegmentFilter(**known)


def _out(row: dict[str, Any]) -> SegmentOut:
    return SegmentOut(
        id=row["id"],
        name=row["name"],
        filter=_filter_of(row["filter"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def create_segment(data: SegmentIn, *, actor: str, now: datetime) -> SegmentOut:
    await compile_filter(data.filter, now=now)  # unknown tiers or stores fail here
    rows = await Segment.insert(
        Segment(
            name=data.name,
            filter=msgspec.json.encode(data.filter).decode(),
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    ).returning(Segment.id)
    return await get_segment(int(rows[0]["id"]))


async def update_segment(segment_id: int, data: SegmentIn, *, now: datetime) -> SegmentOut:
    await get_segment(segment_id)
    await compile_filter(data.filter, now=now)
    await Segment.update(
        {
            Segment.name: data.name,
            Segment.filter: msgspec.json.encode(data.filter).decode(),
            Segment.updated_at: now,
        }
    ).where(Segment.id == segment_id)
    return await get_segment(segment_id)


async def delete_segment(segment_id: int) -> None:
    """Refused while a domain above still needs the segment: each subscriber of
    ``SegmentDeleting`` may refuse (offers: an active offer names it among its groups, and
    would silently stop letting that group's shoppers opt in)."""
    if not await segments_by_id([segment_id], lock=True):
        raise SegmentNotFound(f"no segment {segment_id}", {"segment_id": segment_id})
    await events.publish(SegmentDeleting(segment_id=segment_id))
    await Segment.delete().where(Segment.id == segment_id)


async def get_segment(segment_id: int) -> SegmentOut:
    row = await Segment.select().where(Segment.id == segment_id).first()
    if row is None:
        raise SegmentNotFound(f"no segment {segment_id}", {"segment_id": segment_id})
    return _out(row)


async def segments_by_id(segment_ids: list[int], *, lock: bool = False) -> dict[int, SegmentOut]:
    """The saved segments with these ids; an id with no segment is left out.

    ``lock`` holds the rows to the end of the transaction (PostgreSQL; SQLite's write
    transaction holds the whole file): an offer saved with a segment and the segment's
    deletion then happen one after the other, so neither misses the other."""
    if not segment_ids:
        return {}
    args: list[Any] = []
    where = _in(sorted(set(segment_ids)), args)
    locking = " FOR UPDATE" if lock and not db.is_sqlite() else ""
    rows = await db.raw(
        "SELECT id, name, filter, created_by, created_at, updated_at FROM segment "
        f"WHERE id IN {where} ORDER BY id{locking}",
        *args,
    )
    return {int(row["id"]): _out(row) for row in rows}


async def list_segments() -> list[SegmentOut]:
    rows = await Segment.select().order_by(Segment.id)
    return [_out(row) for row in rows]


# ---- RFM --------------------------------------------------------------------------------

# Quintiles over the shoppers who bought in the last year (5 = most recent, most frequent,
# most spent), named after the usual RFM map. Ties are broken by account id so a run is
# reproducible.
_RFM_SQL = """
INSERT INTO rfm_score (account_id, r, f, m, frequency, monetary_kopecks, last_purchase_at,
                       rfm_group, scored_at)
SELECT q.account_id, q.r, q.f, q.mq, q.frequency, q.monetary, q.last_at,
       CASE WHEN q.first_at >= {} THEN 'new'
            WHEN q.r >= 4 AND q.f >= 4 THEN 'champions'
            WHEN q.r >= 3 AND q.f >= 3 THEN 'loyal'
            WHEN q.r <= 2 AND q.f >= 3 THEN 'at_risk'
            WHEN q.r = 2 THEN 'hibernating'
            WHEN q.r = 1 THEN 'lost'
            ELSE 'others' END,
       {}
FROM (
  SELECT s.account_id, s.frequency, s.monetary, s.last_at, s.first_at,
         NTILE(5) OVER (ORDER BY s.last_at, s.account_id) AS r,
         NTILE(5) OVER (ORDER BY s.frequency, s.monetary, s.account_id) AS f,
         NTILE(5) OVER (ORDER BY s.monetary, s.account_id) AS mq
  FROM (
    SELECT rc.account_id,
           SUM(CASE WHEN rc.occurred_at >= {} THEN 1 ELSE 0 END) AS frequency,
           SUM(CASE WHEN rc.occurred_at >= {} THEN rc.paid_kopecks ELSE 0 END) AS monetary,
           MAX(rc.occurred_at) AS last_at,
           MIN(rc.occurred_at) AS first_at
    FROM receipt rc
    WHERE rc.account_id IN (SELECT account FROM member)
    GROUP BY rc.account_id
    HAVING MAX(rc.occurred_at) >= {}
  ) s
) q
"""

# Members with no purchase in the window: new if they joined recently, else lost.
_RFM_REST_SQL = """
INSERT INTO rfm_score (account_id, r, f, m, frequency, monetary_kopecks, last_purchase_at,
                       rfm_group, scored_at)
SELECT mb.account, 0, 0, 0, 0, 0,
       (SELECT MAX(x.occurred_at) FROM receipt x WHERE x.account_id = mb.account),
       CASE WHEN MIN(mb.created_at) >= {} THEN 'new' ELSE 'lost' END,
       {}
FROM member mb
WHERE NOT EXISTS (SELECT 1 FROM rfm_score s WHERE s.account_id = mb.account)
GROUP BY mb.account
"""


async def score_rfm(*, now: datetime) -> RfmOut:
    """Rescore every shopper's account, in one transaction (readers see old or new)."""
    window = now - RFM_WINDOW
    new_since = now - NEW_SHOPPER
    async with db.write_transaction():
        await db.raw("DELETE FROM rfm_score")
        await db.raw(_RFM_SQL, new_since, now, window, window, window)
        await db.raw(_RFM_REST_SQL, new_since, now)
    groups = await rfm_groups()
    total = sum(g.accounts for g in groups)
    log.info("RFM scored %s accounts: %s", total, {g.group: g.accounts for g in groups})
    return RfmOut(scored=total, groups=groups)


async def rfm_groups() -> list[RfmGroupCount]:
    rows = await db.raw("SELECT rfm_group, COUNT(*) AS n FROM rfm_score GROUP BY rfm_group")
    found = {row["rfm_group"]: int(row["n"]) for row in rows}
    return [RfmGroupCount(group=name, accounts=found.get(name, 0)) for name in RFM_GROUPS]


async def rfm_of_account(account_id: int) -> dict[str, Any] | None:
    rows = await db.raw(
        "SELECT r, f, m, rfm_group FROM rfm_score WHERE account_id = {}", account_id
    )
    return rows[0] if rows else None


# ---- what a message needs to know about its recipients ------------------------------------


class Recipient(msgspec.Struct, frozen=True):
    account_id: int
    member_id: int
    name: str
    email: str | None
    marketing_email: bool
    marketing_push: bool
    balance: int
    burning_points: int
    burning_at: datetime | None
    # The language of the shopper's emails ("ru" or "en").
    language: str


async def recipients(
    account_ids: list[int], *, now: datetime, burning_days: int = 30
) -> dict[int, Recipient]:
    """Name, address, language, consents, balance and points burning soon of each account,
    in two queries whatever the count (a campaign batch)."""
    if not account_ids:
        return {}
    args: list[Any] = []
    where = _in(account_ids, args)
    rows = await db.raw(
        "SELECT m.account AS account_id, m.id AS member_id, m.name, m.email, "
        "m.marketing_email, m.marketing_push, m.language, a.balance "
        f"FROM member m JOIN account a ON a.id = m.account WHERE m.account IN {where}",
        *args,
    )
    burn_args: list[Any] = [now, now + timedelta(days=burning_days)]
    burn_where = _in(account_ids, burn_args)
    burns = await db.raw(
        "SELECT l.account AS account_id, SUM(l.remaining) AS points, MIN(l.expires_at) AS first "
        "FROM lot l WHERE l.remaining > 0 AND l.expires_at > {} AND l.expires_at <= {} "
        f"AND l.account IN {burn_where} GROUP BY l.account",
        *burn_args,
    )
    burning = {int(b["account_id"]): b for b in burns}
    found: dict[int, Recipient] = {}
    for row in rows:
        burn = burning.get(int(row["account_id"]))
        first = burn["first"] if burn else None
        if isinstance(first, str):
            first = datetime.fromisoformat(first)
        found[int(row["account_id"])] = Recipient(
            account_id=int(row["account_id"]),
            member_id=int(row["member_id"]),
            name=row["name"],
            email=row["email"],
            marketing_email=bool(row["marketing_email"]),
            marketing_push=bool(row["marketing_push"]),
            balance=int(row["balance"]),
            burning_points=int(burn["points"]) if burn else 0,
            burning_at=first,
            language=row["language"],
        )
    return found
