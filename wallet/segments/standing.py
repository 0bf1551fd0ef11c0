"""Each account's tier and RFM group at every month end, recorded by the worker when a
month ends, so the reports can tell how the tiers are filled and who moved between them.

Tiers are computed on the fly from spend and RFM groups are rescored in place every night:
neither says where an account stood last March. The month-end job (``jobs.month_end``)
writes it down once per month in set-based statements (``queries.record_standings``),
reading everything as it was at the month's last instant, so the record does not depend on
when the job runs, and an earlier month can be filled in later from the receipts
(``wallet record-standings``). A month already recorded is left as it is.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import msgspec

from wallet import clock, db
from wallet import settings as settings_module
from wallet.rules import service as rules_service
from wallet.rules.schemas import BASE_TIER, Rules, Tier
from wallet.segments import queries

log = logging.getLogger("wallet.segments")

# The RFM window and "new" as the nightly scoring counts them (``service.score_rfm``).
RFM_WINDOW = timedelta(days=365)
NEW_SHOPPER = timedelta(days=30)


class MonthRecord(msgspec.Struct, frozen=True):
    """A recorded month end: its last instant and how many accounts existed then."""

    month: str
    as_of: datetime
    accounts: int


class MoveCount(msgspec.Struct, frozen=True):
    """Accounts that stood at (``prev_*``) at the month end before and at (``tier``,
    ``rfm_group``) at this one; ``prev_tier`` None: the account did not exist then, or that
    month end was not recorded. ``rfm_group`` None: no shopper on the account."""

    prev_tier: str | None
    prev_floor_kopecks: int | None
    tier: str
    tier_floor_kopecks: int
    prev_rfm_group: str | None
    rfm_group: str | None
    accounts: int


def month_key(moment: datetime) -> str:
    local = moment.astimezone(settings_module.get().tz)
    return f"{local.year:04d}-{local.month:02d}"


def shift_month(key: str, months: int) -> str:
    year, month = (int(part) for part in key.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_end(key: str) -> datetime:
    """The first instant after the month (midnight of the next 1st in the program's zone),
    in UTC: the month's standings are everything before it."""
    year, month = (int(part) for part in shift_month(key, 1).split("-"))
    return clock.to_utc(datetime(year, month, 1, tzinfo=settings_module.get().tz))


async def _rules_at(moment: datetime) -> Rules:
    """The rules in force at ``moment``; before any are saved, the defaults' ladder (without
    saving them: a report reading now must not write)."""
    if await rules_service.versions():
        return await rules_service.rules_at(moment)
    defaults = rules_service.DEFAULT_RULES
    return Rules(
        id=0,
        effective_from=moment,
        program_name="",
        earn_rate_bp=defaults.earn_rate_bp or 0,
        tiers=list(defaults.tiers or []),
        no_earn_categories=[],
        no_redeem_categories=[],
        max_redeem_share_bp=0,
        validity_months=6,
        pending_days=0,
        point_value_kopecks=100,
    )


async def _at(end: datetime, month: str, *, live: bool) -> queries.StandingAt:
    # The rules of the month's last instant decide its tiers (a ladder saved for the 1st
    # applies from the next month end on).
    rules = await _rules_at(end - timedelta(microseconds=1))
    last_day = (end - timedelta(microseconds=1)).astimezone(settings_module.get().tz).date()
    year = last_day.year
    return queries.StandingAt(
        end=end,
        month=month,
        bands=rules.tier_bands(),
        basis=rules.tier_basis,
        first_month=rules.first_counted_month(last_day),
        this_year=f"{year:04d}-01",
        last_year=f"{year - 1:04d}-01",
        window=end - RFM_WINDOW,
        new_since=end - NEW_SHOPPER,
        live=live,
    )


async def record_month(month: str, *, now: datetime) -> int | None:
    """Record every account's tier and RFM group at the end of ``month`` ("YYYY-MM", a month
    that has ended), beside its record of the month before. Returns the accounts recorded,
    or None when the month was recorded already (nothing is written then)."""
    end = month_end(month)
    if end > now:
        raise ValueError(f"{month} has not ended yet")
    at = await _at(end, month, live=False)
    async with db.write_transaction():
        if not await db.fetch(queries.START_MONTH, month, end, now):
            return None
        p = db.Params()
        text = queries.record_standings(p, at, shift_month(month, -1))
        await db.fetch(text, *p.values)
        await db.fetch(queries.COUNT_MOVES, month)
        await db.fetch(queries.FINISH_MONTH, month)
        rows = await db.fetch(queries.RECORDED_MONTHS, month, month)
    if not db.is_sqlite():
        # A million new rows at once: without fresh statistics the report's join with them
        # planned for a few hundred (an on-disk sort, bench/bench_standings.py) until
        # autovacuum came by.
        await db.fetch(queries.ANALYZE_STANDINGS)
    accounts = int(rows[0]["accounts"])
    log.info("standings of %s recorded: %s accounts", month, accounts)
    return accounts


async def record_since(first: str, *, now: datetime) -> dict[str, int | None]:
    """Record every ended month from ``first`` on, oldest first (each beside the one before);
    the months already recorded are skipped."""
    done: dict[str, int | None] = {}
    month, current = first, month_key(now)
    while month < current:
        done[month] = await record_month(month, now=now)
        month = shift_month(month, 1)
    return done


async def recorded_months(first: str, last: str) -> list[MonthRecord]:
    rows = await db.fetch(queries.RECORDED_MONTHS, first, last)
    return [
        MonthRecord(month=row["month"], as_of=row["as_of"], accounts=int(row["accounts"]))
        for row in rows
    ]


def _moves(rows: list[dict[str, object]]) -> list[MoveCount]:
    return [msgspec.convert(row, MoveCount) for row in rows]


async def month_moves(first: str, last: str) -> dict[str, list[MoveCount]]:
    """The recorded months of [first, last] counted by (before, after) tier and group."""
    found: dict[str, list[MoveCount]] = {}
    for row in await db.fetch(queries.MONTH_MOVES, first, last):
        month = str(row.pop("month"))
        found.setdefault(month, []).append(msgspec.convert(row, MoveCount))
    return found


async def moves_now(*, now: datetime) -> list[MoveCount]:
    """Every account's tier now (the same computation as a month end, with the spend so
    far) and RFM group as of the last nightly scoring, beside its record at the end of
    last month."""
    month = month_key(now)
    at = await _at(now.astimezone(UTC), month, live=True)
    p = db.Params()
    rows = await db.fetch(queries.moves_now(p, at, shift_month(month, -1)), *p.values)
    return _moves(rows)


async def tier_ladder(*, now: datetime) -> list[Tier]:
    """The tiers in force now, lowest first (the base tier included when the ladder starts
    above zero): the order a report lists them in."""
    rules = await _rules_at(now)
    bands = rules.tier_bands()
    return [band.tier for band in bands] or [
        Tier(name=BASE_TIER, min_spend_kopecks=0, earn_rate_bp=rules.earn_rate_bp)
    ]
