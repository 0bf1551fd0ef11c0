"""Promotions: what marketers save (validated, drafted, activated, paused, ended), the
active set each process keeps in memory, their budgets, and cashiers' manual discounts.

The till prices with ``catalogue()`` (the active set, reloaded only when the version row
says it changed: one small read per receipt), resolves the shopper's segments with
``segments_of`` before pricing, and takes budgets with ``budgets_left`` (locked) and
``consume`` in its own transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wallet import clock, db, runtime, words
from wallet import settings as settings_module
from wallet.errors import Conflict, DomainError, NotFound
from wallet.platform import service as platform
from wallet.promotions import coupons, engine, queries
from wallet.promotions.engine import Catalogue, Compiled, Left
from wallet.promotions.schemas import (
    Counters,
    Coupon,
    CouponBatchIn,
    CouponBatchOut,
    Definition,
    Lines,
    Multiplier,
    NForM,
    PromotionIn,
    PromotionOut,
    Schedule,
    Segments,
    SetDeal,
    ShopperPromotion,
    SimulationOut,
    Stores,
    Window,
)
from wallet.promotions.tables import Promotion
from wallet.rules import service as rules_service


class PromotionNotFound(NotFound):
    code = "promotion_not_found"


class PromotionRefused(DomainError):
    """A promotion that cannot be saved as sent; ``code`` says which rule it broke."""

    status_code = 422

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, details)
        self.code = code  # type: ignore[misc]


class ManualDiscountRefused(DomainError):
    status_code = 422
    code = "manual_discount_refused"


# ---- readers the domains above hand in (wallet.wiring) ---------------------------------

SegmentsOf = Callable[[frozenset[int], int, datetime], Awaitable[frozenset[int]]]
KnownSegments = Callable[[list[int]], Awaitable[set[int]]]
_segments_of: SegmentsOf | None = None
_known_segments: KnownSegments | None = None


def read_segments(*, member_of: SegmentsOf, known: KnownSegments) -> None:
    """Segments sit beside the till, above promotions: wiring hands in how to ask them."""
    global _segments_of, _known_segments
    _segments_of, _known_segments = member_of, known


async def segments_of(
    segment_ids: frozenset[int], account_id: int, now: datetime
) -> frozenset[int]:
    if not segment_ids or _segments_of is None:
        return frozenset()
    return await _segments_of(segment_ids, account_id, now)


# ---- the active set, cached per process -------------------------------------------------


def forget_cache() -> None:
    runtime.current().caches.promotions = None


def _definition(value: Any) -> Definition:
    return msgspec.convert(json.loads(value) if isinstance(value, str) else value, Definition)


# How long the version read is trusted: every change made in this process forgets the
# cache at once; another process's change (N web processes) applies within this bound.
# One read per receipt was one more round trip on the till's hot path.
RECHECK_SECONDS = 1.0


async def catalogue() -> Catalogue:
    """The active promotions, compiled; reloaded only when the version row moved."""
    caches = runtime.current().caches
    cached, moment = caches.promotions, time.monotonic()
    if (
        cached is not None
        and moment - caches.promotions_checked < RECHECK_SECONDS
        and moment - caches.promotions_changed > RECHECK_SECONDS
    ):
        fresh: Catalogue = cached[1]
        return fresh
    rows = await db.fetch(queries.VERSION)
    version = int(rows[0]["version"]) if rows else -1
    cached = caches.promotions
    if cached is not None and cached[0] == version:
        # Trusted from the moment before the read, and only once the set matches it:
        # readers arriving while a newer set loads must not take the older one.
        caches.promotions_checked = moment
        found: Catalogue = cached[1]
        return found
    loaded = Catalogue(
        Compiled(row["id"], row["name"], _definition(row["definition"]))
        for row in await db.fetch(queries.ACTIVE)
    )
    cached = caches.promotions
    if cached is None or cached[0] <= version:  # a slower, older read never replaces a newer
        caches.promotions = (version, loaded)
        caches.promotions_checked = moment
    return loaded


async def _bump() -> None:
    # Until this change has surely committed, every reader here asks for the version (one
    # that read before the commit would otherwise keep the old set for RECHECK_SECONDS).
    runtime.current().caches.promotions_changed = time.monotonic()
    if not await db.fetch(queries.BUMP):
        await db.fetch(queries.INSERT_VERSION)


def snapshot(catalogue: Catalogue, promotion_ids: Iterable[int]) -> Catalogue:
    return Catalogue(catalogue.by_id[pid] for pid in promotion_ids)


def compile_saved(rows: Iterable[tuple[int, str, Any]]) -> Catalogue:
    """A catalogue of promotions as a receipt saved them (a return re-prices with it)."""
    return Catalogue(Compiled(pid, name, _definition(d)) for pid, name, d in rows)


# ---- budgets ------------------------------------------------------------------------------


def period_key(c: Compiled, account_id: int, at: datetime) -> str | None:
    budget = c.d.budget
    if budget.shopper_points is None and budget.shopper_kopecks is None:
        return None
    local = at.astimezone(settings_module.get().tz).date()
    period = {
        "day": local.isoformat(),
        "week": (local - timedelta(days=local.weekday())).isoformat(),
        "month": local.isoformat()[:7],
        "promotion": "all",
    }[budget.period]
    return f"{c.id}:{account_id}:{period}"


async def budgets_left(
    catalogue: Catalogue, promotion_ids: set[int], account_id: int, at: datetime, *, lock: bool
) -> dict[int, Left]:
    """What each promotion's budgets still allow this shopper, read (``lock``: and held to
    the end of the transaction, so concurrent receipts take turns on the remainder)."""
    ids = sorted(promotion_ids)
    if not ids:
        return {}
    rows = {row["id"]: row for row in await db.fetch(queries.budgets(len(ids), lock=lock), *ids)}
    keys = {pid: period_key(catalogue.by_id[pid], account_id, at) for pid in ids}
    wanted = [key for key in keys.values() if key]
    uses = {}
    if wanted:
        found = await db.fetch(queries.with_in(queries.SHOPPER_USES, len(wanted)), *wanted)
        uses = {row["use_key"]: row for row in found}
    left: dict[int, Left] = {}
    for pid in ids:
        row = rows.get(pid)
        budget = catalogue.by_id[pid].d.budget
        points = kopecks = None
        if row is not None and row["budget_points"] is not None:
            points = max(0, row["budget_points"] - row["used_points"])
        if row is not None and row["budget_kopecks"] is not None:
            kopecks = max(0, row["budget_kopecks"] - row["used_kopecks"])
        use = uses.get(keys[pid] or "")
        if budget.shopper_points is not None:
            mine = budget.shopper_points - (use["points"] if use else 0)
            points = max(0, mine if points is None else min(points, mine))
        if budget.shopper_kopecks is not None:
            mine = budget.shopper_kopecks - (use["kopecks"] if use else 0)
            kopecks = max(0, mine if kopecks is None else min(kopecks, mine))
        left[pid] = Left(points=points, kopecks=kopecks)
    return left


def cost_kopecks(points: int, discount: int, point_value_kopecks: int) -> int:
    return discount + points * point_value_kopecks


async def consume(
    c: Compiled, *, account_id: int, at: datetime, points: int, discount: int, point_value: int
) -> str | None:
    """Take a receipt's part of a promotion's budgets; the per-shopper key it counted on."""
    kopecks = cost_kopecks(points, discount, point_value)
    if not await db.fetch(queries.CONSUME, c.id, points, kopecks):
        # The caller locked and priced within the remainder; getting here is a bug.
        raise Conflict(
            f"promotion {c.id}'s budget changed under a receipt; retry the receipt",
            {"promotion_id": c.id},
        )
    key = period_key(c, account_id, at)
    if key is not None:
        await db.fetch(queries.SHOPPER_CONSUME, key, c.id, account_id, points, kopecks)
    return key


async def give_back(
    promotion_id: int, use_key: str | None, *, points: int, discount: int, point_value: int
) -> None:
    kopecks = cost_kopecks(points, discount, point_value)
    await db.fetch(queries.GIVE_BACK, promotion_id, points, kopecks)
    if use_key is not None:
        await db.fetch(queries.SHOPPER_GIVE_BACK, use_key, points, kopecks)


# ---- the marketer's side ---------------------------------------------------------------


def _refuse(code: str, message: str, **details: Any) -> PromotionRefused:
    return PromotionRefused(code, message, details or None)


async def _validate(d: Definition) -> None:
    """Rules msgspec cannot say, each with its own code; references must exist."""
    if not d.effects:
        # msgspec checks min_length only on what was sent, not on the default.
        raise _refuse("effects_missing", "a promotion needs at least one effect")
    stores: set[str] = set()
    categories: set[str] = set()
    skus: set[str] = set()
    brands: set[str] = set()
    segments: set[int] = set()
    for condition in d.conditions:
        if isinstance(condition, Window):
            if condition.starts_at.tzinfo is None or condition.ends_at.tzinfo is None:
                raise _refuse("window_needs_offset", "window times need a UTC offset")
            if condition.ends_at <= condition.starts_at:
                raise _refuse(
                    "window_ends_before_start",
                    f"the window ends ({condition.ends_at.isoformat()}) before it starts "
                    f"({condition.starts_at.isoformat()})",
                )
        elif isinstance(condition, Schedule) and condition.hour_to <= condition.hour_from:
            raise _refuse("hours_invalid", "hour_to must come after hour_from")
        elif isinstance(condition, Stores):
            stores.update(condition.codes)
        elif isinstance(condition, Segments):
            segments.update(condition.ids)
        elif isinstance(condition, Lines):
            if not (condition.categories or condition.skus or condition.brands):
                raise _refuse("lines_empty", "a lines condition names no category, SKU or brand")
            categories.update(condition.categories)
            skus.update(condition.skus)
            brands.update(condition.brands)
    kinds = [type(c) for c in d.conditions]
    if len(kinds) != len(set(kinds)):
        raise _refuse("condition_repeated", "each kind of condition may appear once")
    for effect in d.effects:
        if isinstance(effect, Multiplier) and not 1 <= effect.times <= 100:
            raise _refuse(
                "multiplier_out_of_range",
                f"a multiplier is from 1 to 100; {effect.times} was sent",
                times=effect.times,
            )
        if isinstance(effect, NForM) and effect.pay >= effect.take:
            raise _refuse("n_for_m_invalid", "pay must be fewer units than take")
        if isinstance(effect, SetDeal):
            if len(set(effect.skus)) < 2:
                raise _refuse("set_too_small", "a set needs at least two different SKUs")
            if (effect.price_kopecks is None) == (effect.percent_bp is None):
                raise _refuse("set_price_missing", "a set has either price_kopecks or percent_bp")
            skus.update(effect.skus)
    await _check_known("unknown_store", "store", stores, queries.STORE_CODES, "code")
    await _check_known("unknown_category", "category", categories, queries.KNOWN_CATEGORIES)
    await _check_known("unknown_sku", "SKU", skus, queries.KNOWN_SKUS)
    await _check_known("unknown_brand", "brand", brands, queries.KNOWN_BRANDS)
    if segments:
        known = await _known_segments(sorted(segments)) if _known_segments else set()
        missing = sorted(segments - known)
        if missing:
            raise _refuse("unknown_segment", f"no saved segment {missing}", ids=missing)


async def _check_known(
    code: str, what: str, values: set[str], sql: str, column: str = "value"
) -> None:
    """Categories, SKUs and brands are known once a receipt sold them (there is no product
    catalogue); stores must exist."""
    if not values:
        return
    ordered = sorted(values)
    known: set[str] = set()
    for chunk in db.chunks(ordered):
        rows = await db.fetch(queries.with_in(sql, len(chunk)), *chunk)
        known.update(row[column] for row in rows)
    if code == "unknown_category":
        rules = await rules_service.rules_at(clock.now())
        known.update(rules.no_earn_categories, rules.no_redeem_categories)
    missing = sorted(values - known)
    if missing:
        raise _refuse(
            code,
            f"unknown {what}: {', '.join(missing)} (not sold on any receipt yet)"
            if code != "unknown_store"
            else f"no store {', '.join(missing)}",
            values=missing,
        )


def _overlaps(a: Compiled, b: Compiled) -> bool:
    """Whether two promotions could meet on one receipt and one would push the other out."""
    if a.d.group != b.d.group:
        return False
    if "exclusive" not in (a.d.stacking, b.d.stacking) and (a.d.stacking, b.d.stacking) != (
        "best",
        "best",
    ):
        return False
    if a.window and b.window and (a.window[1] <= b.window[0] or b.window[1] <= a.window[0]):
        return False
    if a.stores is not None and b.stores is not None and not a.stores & b.stores:
        return False
    if a.scoped and b.scoped:
        return bool(
            (a.categories or set()) & (b.categories or set())
            or a.skus & b.skus
            or a.brands & b.brands
        )
    return True


async def _warnings(promotion_id: int, name: str, d: Definition) -> list[str]:
    mine = Compiled(promotion_id, name, d)
    rows = await db.fetch(
        "SELECT id, name, definition FROM promotion WHERE status IN ('active', 'paused', 'draft') "
        "AND id <> $1 ORDER BY id",
        promotion_id,
    )
    found = []
    for row in rows:
        other = Compiled(row["id"], row["name"], _definition(row["definition"]))
        if _overlaps(mine, other):
            found.append(
                f"overlaps promotion {other.id} «{other.name}» in group {d.group or '(default)'}: "
                "they cannot both apply to the same lines"
            )
    return found


def _counters(row: dict[str, Any], live: Mapping[int, dict[str, Any]]) -> Counters:
    counts = live.get(row["id"], {})
    return Counters(
        uses=int(counts.get("uses", 0)),
        points_given=int(counts.get("points", 0)),
        discount_kopecks=int(counts.get("discount", 0)),
        budget_points_left=None
        if row["budget_points"] is None
        else max(0, row["budget_points"] - row["used_points"]),
        budget_kopecks_left=None
        if row["budget_kopecks"] is None
        else max(0, row["budget_kopecks"] - row["used_kopecks"]),
    )


async def _live() -> dict[int, dict[str, Any]]:
    return {row["promotion_id"]: row for row in await db.fetch(queries.COUNTERS)}


def _out(
    row: dict[str, Any], live: Mapping[int, dict[str, Any]], warnings: list[str] | None = None
) -> PromotionOut:
    return PromotionOut(
        id=row["id"],
        name=row["name"],
        status=row["status"],
        definition=_definition(row["definition"]),
        counters=_counters(row, live),
        created_by=row["created_by"],
        created_at=row["created_at"],
        warnings=warnings or [],
    )


async def create(data: PromotionIn, *, actor: str, now: datetime) -> PromotionOut:
    d = data.definition()
    await _validate(d)
    rows = await Promotion.insert(
        Promotion(
            name=data.name,
            status="draft",
            definition=msgspec.to_builtins(d),
            budget_points=d.budget.points,
            budget_kopecks=d.budget.kopecks,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    ).returning(Promotion.id)
    promotion_id = int(rows[0]["id"])
    await platform.audit(
        actor=actor, action="promotion.create", subject=f"promotion:{promotion_id}", details={}
    )
    row = await _row(promotion_id)
    return _out(row, {}, await _warnings(promotion_id, data.name, d))


async def _row(promotion_id: int, *, lock: bool = False) -> dict[str, Any]:
    rows = await db.fetch(queries.PROMOTION_LOCKED if lock else queries.PROMOTION, promotion_id)
    if not rows:
        raise PromotionNotFound(f"no promotion {promotion_id}", {"promotion_id": promotion_id})
    return rows[0]


async def get(promotion_id: int) -> PromotionOut:
    row = await _row(promotion_id)
    return _out(row, await _live())


async def list_all() -> list[PromotionOut]:
    live = await _live()
    return [_out(row, live) for row in await db.fetch("SELECT * FROM promotion ORDER BY id")]


_MOVES = {
    "activate": ({"draft", "paused"}, "active"),
    "pause": ({"active"}, "paused"),
    "end": ({"draft", "active", "paused"}, "ended"),
}


async def move(promotion_id: int, action: str, *, actor: str, now: datetime) -> PromotionOut:
    """Activate, pause or end; every change to the active set bumps its version."""
    row = await _row(promotion_id, lock=True)
    allowed, target = _MOVES[action]
    if row["status"] not in allowed:
        raise PromotionRefused(
            "wrong_status",
            f"a promotion that is {row['status']} cannot be {action}d",
            {"status": row["status"], "action": action},
        )
    warnings: list[str] = []
    d = _definition(row["definition"])
    if target == "active":
        await _validate(d)  # a store or segment may have gone since the draft
        warnings = await _warnings(promotion_id, row["name"], d)
    await db.fetch(
        "UPDATE promotion SET status = $1, updated_at = $2 WHERE id = $3", target, now, promotion_id
    )
    await _bump()
    await platform.audit(
        actor=actor, action=f"promotion.{action}", subject=f"promotion:{promotion_id}", details={}
    )
    return _out(await _row(promotion_id), await _live(), warnings)


async def simulate(
    promotion_id: int,
    *,
    days: int,
    now: datetime,
    tier_of: Callable[[int], tuple[str, int]],
    point_value_kopecks: int,
    excluded: frozenset[str],
    limit: int = 100_000,
) -> SimulationOut:
    """What the promotion alone would have given on the last ``days`` of real receipts:
    receipts matched, points, discount, their cost and the shoppers reached."""
    row = await _row(promotion_id)
    c = Compiled(row["id"], row["name"], _definition(row["definition"]))
    cat = Catalogue([c])
    receipts = await db.fetch(queries.SIM_RECEIPTS, now - timedelta(days=days), limit)
    lines: dict[int, list[dict[str, Any]]] = {}
    for chunk in db.chunks([r["id"] for r in receipts]):
        for line in await db.fetch(queries.with_in(queries.SIM_LINES, len(chunk)), *chunk):
            lines.setdefault(line["receipt"], []).append(line)
    zone = settings_module.get().tz
    matched = points = discount = 0
    shoppers: set[int] = set()
    for receipt in receipts:
        sold = lines.get(receipt["id"], [])
        if not sold:
            continue
        occurred = clock.to_utc(receipt["occurred_at"])
        tier, rate = tier_of(int(receipt["lifetime_spend_kopecks"]))
        shopper = engine.Shopper(
            store_code=receipt["store_code"],
            at=occurred,
            local=occurred.astimezone(zone),
            tier=tier,
            tier_rate_bp=rate,
            segments=await segments_of(cat.segment_ids, receipt["account_id"], now),
            first_purchase=receipt["first_id"] == receipt["id"],
        )
        items = [
            engine.Item(
                sku=line["sku"],
                category=line["category"],
                amount=int(line["amount_kopecks"]),
                quantity=float(line["quantity"]),
                brand=line["brand"],
            )
            for line in sold
        ]
        found = engine.discount(
            cat, items, shopper, excluded=excluded, left={}, point_value_kopecks=point_value_kopecks
        )
        paid = [max(0, found.net[i] - int(line["redeemed_kopecks"])) for i, line in enumerate(sold)]
        base = [int(line["earned_points"]) for line in sold]
        awarded = engine.award(
            cat,
            items,
            found,
            paid=paid,
            base=base,
            left={},
            point_value_kopecks=point_value_kopecks,
        )
        if awarded.applied:
            matched += 1
            shoppers.add(receipt["account_id"])
            points += awarded.applied[0].points
            discount += awarded.applied[0].discount_kopecks
    return SimulationOut(
        days=days,
        receipts_seen=len(receipts),
        receipts_matched=matched,
        points=points,
        discount_kopecks=discount,
        cost_kopecks=cost_kopecks(points, discount, point_value_kopecks),
        shoppers_reached=len(shoppers),
    )


# ---- coupons and segments ---------------------------------------------------------------


async def create_coupons(
    promotion_id: int, data: CouponBatchIn, *, actor: str, now: datetime
) -> CouponBatchOut:
    row = await _row(promotion_id, lock=True)
    d = _definition(row["definition"])
    uses = any(isinstance(condition, Coupon) for condition in d.conditions)
    return await coupons.create_batch(promotion_id, row, uses, data, actor=actor, now=now)


async def promotions_using_segment(segment_id: int) -> list[tuple[int, str]]:
    """Id and name of every active or paused promotion whose conditions name the segment
    (a paused one comes back with it)."""
    rows = await db.fetch(queries.LIVE)
    found = []
    for row in rows:
        d = _definition(row["definition"])
        if any(isinstance(c, Segments) and segment_id in c.ids for c in d.conditions):
            found.append((int(row["id"]), str(row["name"])))
    return found


def _roubles(kopecks: int) -> str:
    """'3 431,10 ₽' (words.money), as on every other shopper's page."""
    return words.money(kopecks)


def _effect_ru(e: Any) -> str:
    kind = engine.kind_of(e)
    if kind == "multiplier":
        return f"баллы ×{e.times}"
    if kind == "rate":
        return f"{e.rate_bp / 100:g}% баллами".replace(".", ",")
    if kind == "receipt_bonus":
        return f"+{words.points(e.points)} за покупку"
    if kind == "per_amount":
        return f"{words.points(e.points)} за каждые {_roubles(e.per_kopecks)}"
    if kind == "sku_bonus":
        return f"+{words.points(e.points)} за {e.sku}"
    if kind == "percent_off":
        return f"скидка {e.percent_bp / 100:g}%"
    if kind == "amount_off":
        return f"скидка {_roubles(e.kopecks)}"
    if kind == "n_for_m":
        return f"{e.take} по цене {e.pay}"
    if kind == "set":
        if e.price_kopecks is not None:
            return f"комплект за {_roubles(e.price_kopecks)}"
        return f"комплект со скидкой {(e.percent_bp or 0) / 100:g}%"
    if kind == "cheapest_free":
        return f"от {e.min_units} шт. самый дешёвый бесплатно"
    return f"{words.points(e.points)} при покупке от {_roubles(e.threshold_kopecks)}"


def gives_ru(d: Definition) -> str:
    """What a promotion gives, in a few Russian words for the shopper."""
    parts = [_effect_ru(e) for e in d.effects]
    for condition in d.conditions:
        if isinstance(condition, Lines):
            scope = [*condition.categories, *condition.brands, *condition.skus]
            parts.append("на " + ", ".join(scope[:5]))
    return ", ".join(parts)


async def has_personal() -> bool:
    """Whether any active promotion is personal (for saved segments or by coupon): pass
    refreshes ask before reading each shopper's promotions."""
    return any(c.coupon or c.segments is not None for c in (await catalogue()).promotions)


async def for_shopper(account_id: int, *, tier: str, now: datetime) -> list[ShopperPromotion]:
    """The active promotions that concern this shopper now: not over, for their tier and
    segments, and a coupon promotion only with a personal coupon of theirs (with its
    code). Personal ones (by segment or coupon) first."""
    cat = await catalogue()
    mine = await coupons.personal(account_id, now=now)
    codes = {c.promotion_id: c for c in mine}
    segments = await segments_of(cat.segment_ids, account_id, now)
    found = []
    for c in cat.promotions:
        if c.window is not None and now >= c.window[1]:
            continue
        if c.tiers is not None and tier not in c.tiers:
            continue
        if c.segments is not None and not c.segments & segments:
            continue
        personal = codes.get(c.id)
        if c.coupon and personal is None:
            continue
        until = c.window[1] if c.window else None
        if personal is not None and personal.valid_until is not None:
            until = min(until, personal.valid_until) if until else personal.valid_until
        found.append(
            ShopperPromotion(
                promotion_id=c.id,
                name=c.name,
                gives=gives_ru(c.d),
                until=until,
                personal=c.segments is not None or personal is not None,
                code=personal.code if personal else None,
            )
        )
    found.sort(key=lambda p: not p.personal)
    return found
