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
from wallet.segments import queries
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


FROM_SQL = queries.FROM_AUDIENCE


@dataclass
class Compiled:
    """``FROM_SQL`` + ``WHERE where``; ``where`` numbers its values in ``params`` (the
    caller's ``db.Params`` when it composes a larger statement)."""

    where: str
    params: db.Params
    ignored: list[str] = field(default_factory=list)

    @property
    def args(self) -> list[Any]:
        return self.params.values


def tier_filter(
    p: db.Params, rules: Rules, names: list[str], *, column: str = "a.lifetime_spend_kopecks"
) -> str:
    """Cards in any of the named tiers, as SQL over ``column`` (values numbered in ``p``).

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
    return queries.tier_where(p, bands, names, column=column)


async def compile_filter(
    flt: SegmentFilter, *, now: datetime, params: db.Params | None = None
) -> Compiled:
    """The filter as SQL over ``FROM_SQL``. Every value is a bound parameter, numbered in
    ``params`` (a new ``db.Params`` when none is given)."""
    p = params if params is not None else db.Params()
    tiers = None
    if flt.tiers:
        tiers = tier_filter(p, await rules_service.rules_at(now), flt.tiers)
    join_ids = [(await stores.get_store(code)).id for code in flt.join_stores or []]
    last_ids = [(await stores.get_store(code)).id for code in flt.last_stores or []]
    local = now.astimezone(settings_module.get().tz)
    month = flt.goal_month or f"{local.year:04d}-{local.month:02d}"
    groups: list[str] = []
    for group in flt.any_of or []:
        if group.any_of:
            raise InvalidInput("a group of conditions holds no groups", {"any_of": "nested"})
        groups.append((await compile_filter(group, now=now, params=p)).where)
    where = queries.audience_where(
        p,
        flt,
        now=now,
        tiers=tiers,
        join_store_ids=join_ids,
        last_store_ids=last_ids,
        goal_month=month,
        any_of=groups,
    )
    return Compiled(where=where, params=p)


async def count(flt: SegmentFilter, *, now: datetime) -> int:
    compiled = await compile_filter(flt, now=now)
    rows = await db.fetch(queries.audience_count(compiled.where), *compiled.args)
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
    rows = await db.fetch(queries.audience_count(compiled.where), *compiled.args)
    text = queries.audience_sample(compiled.params, compiled.where, sample_size)
    sample = await db.fetch(text, *compiled.args)
    return PreviewOut(
        count=int(rows[0]["n"]),
        sample=[msgspec.convert(row, SampleShopper) for row in sample],
        ignored=compiled.ignored,
    )


async def matches(flt: SegmentFilter, account_id: int, *, now: datetime) -> bool:
    """Whether the account's shopper is in the filter's audience at ``now``: one query,
    the same SQL a campaign's audience is made from (a cashback offer's groups)."""
    compiled = await compile_filter(flt, now=now)
    text = queries.audience_has(compiled.params, compiled.where, account_id)
    rows = await db.fetch(text, *compiled.args)
    return bool(rows)


async def account_ids(flt: SegmentFilter, *, now: datetime) -> list[int]:
    """Every matching account, ordered (tests and small audiences; campaigns stream)."""
    compiled = await compile_filter(flt, now=now)
    rows = await db.fetch(queries.audience_accounts(compiled.where), *compiled.args)
    return [int(row["account_id"]) for row in rows]


# ---- saved segments ---------------------------------------------------------------------


def _filter_of(value: Any) -> SegmentFilter:
    raw = db.json_value(value)
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
    p = db.Params()
    rows = await db.fetch(queries.segments_by_id(p, sorted(set(segment_ids)), lock=lock), *p.values)
    return {int(row["id"]): _out(row) for row in rows}


async def list_segments() -> list[SegmentOut]:
    rows = await Segment.select().order_by(Segment.id)
    return [_out(row) for row in rows]


# ---- RFM --------------------------------------------------------------------------------


async def score_rfm(*, now: datetime) -> RfmOut:
    """Rescore every shopper's account, in one transaction (readers see old or new)."""
    window = now - RFM_WINDOW
    new_since = now - NEW_SHOPPER
    async with db.write_transaction():
        await db.fetch(queries.DELETE_RFM)
        await db.fetch(queries.SCORE_RFM, new_since, now, window)
        await db.fetch(queries.SCORE_RFM_REST, new_since, now)
    groups = await rfm_groups()
    total = sum(g.accounts for g in groups)
    log.info("RFM scored %s accounts: %s", total, {g.group: g.accounts for g in groups})
    return RfmOut(scored=total, groups=groups)


async def rfm_groups() -> list[RfmGroupCount]:
    rows = await db.fetch(queries.RFM_GROUPS)
    found = {row["rfm_group"]: int(row["n"]) for row in rows}
    return [RfmGroupCount(group=name, accounts=found.get(name, 0)) for name in RFM_GROUPS]


async def rfm_of_account(account_id: int) -> dict[str, Any] | None:
    rows = await db.fetch(queries.RFM_OF_ACCOUNT, account_id)
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
    # SMS: the number (E.164) and the marketing-SMS opt-in.
    phone: str | None = None
    marketing_sms: bool = False


async def recipients(
    account_ids: list[int], *, now: datetime, burning_days: int = 30, burns: bool = True
) -> dict[int, Recipient]:
    """Name, address, language, consents, balance and points burning soon of each account,
    in two queries whatever the count (a campaign batch). ``burns=False``: a text that
    names no burning points is sent without the second query (0 burning for everyone)."""
    if not account_ids:
        return {}
    p = db.Params()
    rows = await db.fetch(queries.recipients(p, account_ids), *p.values)
    burning: dict[int, Any] = {}
    if burns:
        p = db.Params()
        text = queries.burning_points(p, account_ids, now, now + timedelta(days=burning_days))
        burning = {int(b["account_id"]): b for b in await db.fetch(text, *p.values)}
    found: dict[int, Recipient] = {}
    for row in rows:
        burn = burning.get(int(row["account_id"]))
        first = burn["first"] if burn else None
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
            phone=row["phone"],
            marketing_sms=bool(row["marketing_sms"]),
        )
    return found
