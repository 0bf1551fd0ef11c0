"""Finance and marketing reports: points liability at any moment and point movements over a
period, down to the receipt and its lines.

Read-only: the figures are sums over what the ledger and the till recorded, by the
statements in ``queries`` (the one place allowed to read across domains' tables for
figures); nothing here writes, not even the default rules a first ``rules_at`` would save.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import msgspec

from wallet import clock, db
from wallet import settings as settings_module
from wallet.errors import InvalidInput, NotFound
from wallet.reports import queries
from wallet.reports.schemas import (
    DayMovements,
    ExpiryMonth,
    Liability,
    LiabilityFigures,
    MovementFigures,
    Movements,
    OfferMovements,
    PromotionMovements,
    ReceiptDetail,
    ReceiptEntry,
    ReceiptLineOut,
    ReceiptMovements,
    ReceiptMovementsPage,
    StoreLiability,
    StoreMovements,
    TierLiability,
)
from wallet.rules import service as rules_service
from wallet.rules.schemas import BASE_TIER, Rules

# A period longer than this is refused: the day-by-day table would be unreadable and the
# journal scan unbounded (a year and a day, so "the whole of last year" fits).
MAX_PERIOD = timedelta(days=366)
# How far ahead of the server an as-of moment may be (a clock a little ahead, "today").
FUTURE_SLACK = timedelta(minutes=5)
# Moments outside these are no program's data (and near year 1 or 9999 a change of zone
# leaves the calendar): refused with 422 instead of failing.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EXPIRY_MONTHS = 12
PAGE_LIMIT = 1000

P = ParamSpec("P")
T = TypeVar("T")


def analytical(report: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run a report's reads in one read transaction without PostgreSQL's JIT (see
    ``queries.NO_JIT``: compiling cost more than it saved) and with more memory per sort
    or hash (``queries.WORK_MEM``); SQLite runs it as it is."""

    @functools.wraps(report)
    async def reading(*args: P.args, **kwargs: P.kwargs) -> T:
        if db.is_sqlite():
            return await report(*args, **kwargs)
        async with db.engine().transaction():
            await db.fetch(queries.NO_JIT)
            await db.fetch(queries.WORK_MEM)
            return await report(*args, **kwargs)

    return reading


async def _rules_at(moment: datetime) -> Rules:
    """The rules in force at ``moment``, without saving the defaults when there are none
    (a report must not write): an empty program has no points, only a point value."""
    if await rules_service.versions():
        return await rules_service.rules_at(moment)
    defaults = rules_service.DEFAULT_RULES
    return Rules(
        id=0,
        effective_from=moment,
        program_name=defaults.program_name or "",
        earn_rate_bp=defaults.earn_rate_bp or 0,
        tiers=[],
        no_earn_categories=[],
        no_redeem_categories=[],
        max_redeem_share_bp=defaults.max_redeem_share_bp or 0,
        validity_months=defaults.validity_months or 6,
        pending_days=defaults.pending_days or 0,
        point_value_kopecks=defaults.point_value_kopecks or 100,
    )


def _month(moment: datetime) -> str:
    return clock.local_date(moment, settings_module.get().tz).strftime("%Y-%m")


def _month_start(year: int, month: int) -> datetime:
    """Midnight of the 1st in the program's zone, in UTC."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=settings_module.get().tz).astimezone(UTC)


def _figures(numbers: list[int], value: int) -> dict[str, int]:
    accounts, holding, balance, pending, debt = numbers
    return {
        "accounts": accounts,
        "holding_accounts": holding,
        "balance_points": balance,
        "pending_points": pending,
        "debt_points": debt,
        "outstanding_points": balance + pending,
        "value_kopecks": (balance + pending) * value,
        "debt_value_kopecks": debt * value,
    }


def _within_years(moment: datetime) -> None:
    if not EARLIEST <= moment < LATEST:
        raise InvalidInput(
            f"{moment.isoformat()} is outside {EARLIEST.year}-{LATEST.year - 1}",
            {"moment": moment.isoformat()},
        )


def check_as_of(as_of: datetime, *, now: datetime) -> datetime:
    if as_of.tzinfo is None:
        raise InvalidInput("as_of needs a UTC offset (e.g. 2026-11-30T23:59:59+03:00)")
    _within_years(as_of)
    if as_of > now + FUTURE_SLACK:
        raise InvalidInput(
            "as_of is in the future: the liability is known up to now",
            {"as_of": as_of.isoformat(), "now": now.isoformat()},
        )
    return min(as_of, now).astimezone(UTC)


@analytical
async def liability(as_of: datetime, *, now: datetime) -> Liability:
    """Points outstanding at ``as_of``, by tier and join store, and what of them expires in
    each of the next twelve months (the first: the rest of the as-of month)."""
    at = check_as_of(as_of, now=now)
    rules = await _rules_at(at)
    value = rules.point_value_kopecks
    local = clock.local_date(at, settings_module.get().tz)
    month = local.strftime("%Y-%m")
    first = rules.first_counted_month(local) or month
    this_year, last_year = f"{local.year:04d}-01", f"{local.year - 1:04d}-01"
    bands = rules.tier_bands()
    # The present needs no reconstruction: the accounts and lots as they stand are the answer.
    present = at >= now
    p = db.Params(at)
    boundaries = [_month_start(local.year, local.month + n) for n in range(1, EXPIRY_MONTHS + 1)]
    bounds = [p(boundary) for boundary in boundaries]
    basis = queries.QUALIFYING.get(rules.tier_basis, "lifetime")
    highs = [band.high for band in bands if band.high is not None]
    # Only tiers on monthly spend read it (lifetime now is the account's own total).
    months = None
    if highs and not (basis == "lifetime" and present):
        months = (p(month), p(first), p(this_year), p(last_year))
    case = queries.tier_case(basis, highs, p)
    since = None
    if not present:
        # The last month end recorded by then: its lots and the journal after it, not the
        # whole journal (none recorded: the whole journal, the same figures).
        recorded = await db.fetch(queries.LIABILITY_MONTH, at)
        if recorded:
            month_end = recorded[0]
            since = (p(month_end["month"]), p(month_end["as_of"]), p(month_end["last_entry"]))
    text = queries.liability(case, bounds, now=present, months=months, since=since)
    rows = await db.fetch(text, *p.values)
    stores = {row["id"]: row for row in await db.fetch(queries.STORES)}

    by_tier: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    by_store: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    by_bucket: dict[int, int] = defaultdict(int)
    for row in rows:
        if row["bucket"] is not None:
            by_bucket[int(row["bucket"])] += int(row["points"] or 0)
            continue
        numbers = [int(row[k] or 0) for k in ("accounts", "holding", "balance", "pending", "debt")]
        for target in (by_tier[int(row["tier_band"])], by_store[row["join_store_id"]]):
            for n, number in enumerate(numbers):
                target[n] += number
    total = [sum(v[n] for v in by_tier.values()) for n in range(5)]

    names = [band.tier.name for band in bands] or [BASE_TIER]
    tiers = [
        TierLiability(tier=names[index], **_figures(by_tier[index], value))
        for index in range(len(names))
    ]
    store_rows = [
        StoreLiability(
            store_id=store_id,
            store_code=stores[store_id]["code"] if store_id in stores else None,
            store_name=stores[store_id]["name"] if store_id in stores else None,
            **_figures(numbers, value),
        )
        for store_id, numbers in sorted(by_store.items(), key=lambda kv: (kv[0] is None, kv[0]))
    ]

    expiring = [
        ExpiryMonth(
            month=_month(boundaries[n] - timedelta(days=1)),
            points=by_bucket.get(n, 0),
            value_kopecks=by_bucket.get(n, 0) * value,
        )
        for n in range(EXPIRY_MONTHS)
    ]
    return Liability(
        as_of=at,
        point_value_kopecks=value,
        total=LiabilityFigures(**_figures(total, value)),
        by_tier=tiers,
        by_join_store=store_rows,
        expiring=expiring,
        expiring_later_points=by_bucket.get(EXPIRY_MONTHS, 0),
    )


# ---- movements -------------------------------------------------------------------------


def check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("from and to need a UTC offset (e.g. 2026-11-01T00:00:00+03:00)")
    _within_years(start)
    _within_years(end)
    if end <= start:
        raise InvalidInput(
            "the period is empty: to must be after from",
            {"from": start.isoformat(), "to": end.isoformat()},
        )
    if end - start > MAX_PERIOD:
        raise InvalidInput(
            f"the period is longer than {MAX_PERIOD.days} days; ask for a year at most",
            {"from": start.isoformat(), "to": end.isoformat(), "max_days": MAX_PERIOD.days},
        )
    return start.astimezone(UTC), end.astimezone(UTC)


async def store_id_of(code: str | None) -> int | None:
    if code is None:
        return None
    for row in await db.fetch(queries.STORES):
        if row["code"] == code:
            return int(row["id"])
    raise NotFound(f"no store with code {code!r}", {"store": code})


def zone_argument(start: datetime) -> str:
    """The zone as each engine's day function takes it (see ``queries.MOVEMENTS``)."""
    zone = settings_module.get().tz
    if not db.is_sqlite():
        return zone.key
    offset = start.astimezone(zone).utcoffset() or timedelta()
    return f"{int(offset.total_seconds() // 60):+d} minutes"


def _add(target: dict[str, int], category: str, points: int) -> None:
    target[category] = target.get(category, 0) + points
    target["net"] = target.get("net", 0) + points


@analytical
async def movements(start: datetime, end: datetime, *, store: str | None) -> Movements:
    start, end = check_period(start, end)
    store_id = await store_id_of(store)
    rows = await db.fetch(queries.MOVEMENTS, start, end, zone_argument(start), store_id)
    stores = {row["id"]: row for row in await db.fetch(queries.STORES)}
    total: dict[str, int] = {}
    days: dict[str, dict[str, int]] = defaultdict(dict)
    per_store: dict[int | None, dict[str, int]] = defaultdict(dict)
    promotions: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    offers: dict[int, int] = defaultdict(int)
    for row in rows:
        category, points = str(row["category"]), int(row["points"] or 0)
        _add(total, category, points)
        _add(days[str(row["day"])], category, points)
        _add(per_store[row["store_id"]], category, points)
        if row["promotion_id"] is not None:
            promotions[int(row["promotion_id"])][0 if points > 0 else 1] += points
        if row["offer_id"] is not None:
            offers[int(row["offer_id"])] += points
    promotion_names = {r["id"]: r["name"] for r in await db.fetch(queries.PROMOTION_NAMES)}
    offer_names = {r["id"]: r["name"] for r in await db.fetch(queries.OFFER_NAMES)}
    return Movements(
        start=start,
        end=end,
        store_code=store,
        total=MovementFigures(**total),
        by_day=[DayMovements(day=day, **figures) for day, figures in sorted(days.items())],
        by_store=[
            StoreMovements(
                store_id=sid,
                store_code=stores[sid]["code"] if sid in stores else None,
                store_name=stores[sid]["name"] if sid in stores else None,
                **figures,
            )
            for sid, figures in sorted(per_store.items(), key=lambda kv: (kv[0] is None, kv[0]))
        ],
        by_promotion=[
            PromotionMovements(
                promotion_id=pid,
                name=promotion_names.get(pid, f"#{pid}"),
                given_points=given,
                taken_back_points=taken,
                net_points=given + taken,
            )
            for pid, (given, taken) in sorted(promotions.items())
        ],
        by_offer=[
            OfferMovements(offer_id=oid, name=offer_names.get(oid, f"#{oid}"), cashback_points=n)
            for oid, n in sorted(offers.items())
        ],
    )


@analytical
async def receipt_movements(
    start: datetime, end: datetime, *, store: str | None, after: int, limit: int
) -> ReceiptMovementsPage:
    start, end = check_period(start, end)
    store_id = await store_id_of(store)
    rows = await db.fetch(queries.RECEIPT_MOVEMENTS, start, end, after, store_id, limit)
    items = [_receipt_row(row) for row in rows]
    return ReceiptMovementsPage(
        items=items, next_after=items[-1].receipt_id if len(items) == limit else None
    )


async def all_receipt_movements(
    start: datetime, end: datetime, *, store: str | None
) -> AsyncIterator[ReceiptMovements]:
    """Every receipt of the period, a page at a time: an export never holds them all."""
    after = 0
    while True:
        page = await receipt_movements(start, end, store=store, after=after, limit=PAGE_LIMIT)
        for item in page.items:
            yield item
        if page.next_after is None:
            return
        after = page.next_after


def _receipt_row(row: dict[str, Any]) -> ReceiptMovements:
    figures = {name: int(row[name] or 0) for name in queries.CATEGORIES}
    return ReceiptMovements(
        receipt_id=int(row["receipt_id"]),
        external_id=row["external_id"],
        store_code=row["store_code"],
        occurred_at=row["occurred_at"],
        account_id=int(row["account_id"]),
        total_kopecks=int(row["total_kopecks"]),
        paid_kopecks=int(row["paid_kopecks"]),
        net=sum(figures.values()),
        **figures,
    )


async def receipt_detail(receipt_id: int) -> ReceiptDetail:
    rows = await db.fetch(queries.RECEIPT, receipt_id)
    if not rows:
        raise NotFound(f"no receipt {receipt_id}", {"receipt_id": receipt_id})
    receipt = rows[0]
    lines = await db.fetch(queries.RECEIPT_LINES, receipt_id)
    entries = await db.fetch(queries.RECEIPT_JOURNAL, receipt_id)
    return ReceiptDetail(
        receipt_id=int(receipt["id"]),
        external_id=receipt["external_id"],
        store_code=receipt["store_code"],
        store_name=receipt["store_name"],
        occurred_at=receipt["occurred_at"],
        account_id=int(receipt["account_id"]),
        total_kopecks=int(receipt["total_kopecks"]),
        paid_kopecks=int(receipt["paid_kopecks"]),
        redeemed_points=int(receipt["redeemed_points"]),
        earned_points=int(receipt["earned_points"]),
        refunded_points=int(receipt["refunded_points"]),
        lines=[msgspec.convert(line, ReceiptLineOut, strict=False) for line in lines],
        movements=[msgspec.convert(entry, ReceiptEntry, strict=False) for entry in entries],
    )
