"""The promotions engine: pure functions of a receipt's lines, the shopper's context and
the active promotions (no database, no clock). The till's ``pricing.price`` calls it, so
the quote, the receipt, a return and the marketer's simulation all price alike.

Two phases, because points depend on what is left to pay after discounts and points:
1. ``discount``: which promotions apply (conditions, stacking, budgets) and the money
   each takes off each line, never below 0 and never past the line's or the receipt's cap;
2. ``award``: the points each applied promotion adds on each line, from the money paid.

Every promotion considered and not applied is reported with a machine code and a reason
in Russian and English. Lines in the program's excluded categories (alcohol, tobacco) are
never touched by any promotion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from wallet import words
from wallet.promotions.effects import (
    DISCOUNT_EFFECTS,
    FULL,
    POINTS_EFFECTS,
    DiscountEffect,
    Item,
    OnReceipt,
    PointsEffect,
    Why,
    kind_of,
    spread,
    why,
)
from wallet.promotions.schemas import (
    DISCOUNT_KINDS,
    Applied,
    Coupon,
    Definition,
    FirstPurchase,
    LineDiscount,
    LinePoints,
    Lines,
    MinTotal,
    NotApplied,
    Schedule,
    Segments,
    Stores,
    Tiers,
    Window,
)


class Shopper(msgspec.Struct, frozen=True):
    """Who buys where and when, resolved before pricing (segments included)."""

    store_code: str
    at: datetime
    local: datetime
    tier: str
    tier_rate_bp: int
    segments: frozenset[int] = frozenset()
    first_purchase: bool = False
    coupons: frozenset[str] = frozenset()


class Left(msgspec.Struct, frozen=True):
    """What a promotion's budgets still allow on this receipt (None: no limit)."""

    points: int | None = None
    kopecks: int | None = None


class Compiled:
    """A promotion ready to evaluate: its conditions as sets, its effects split."""

    __slots__ = (
        "_money",
        "_said",
        "brands",
        "budgeted",
        "categories",
        "contextual",
        "coupon",
        "d",
        "discounts",
        "first_purchase",
        "group",
        "hours",
        "id",
        "min_total",
        "name",
        "points",
        "segments",
        "skus",
        "stacking",
        "stores",
        "tiers",
        "weekdays",
        "window",
    )

    def __init__(self, promotion_id: int, name: str, d: Definition) -> None:
        self.id = promotion_id
        self.name = name
        self.d = d
        self.window: tuple[datetime, datetime] | None = None
        self.weekdays: frozenset[int] | None = None
        self.hours: tuple[int, int] | None = None
        self.stores: frozenset[str] | None = None
        self.tiers: frozenset[str] | None = None
        self.segments: frozenset[int] | None = None
        self.categories: frozenset[str] | None = None
        self.skus: frozenset[str] = frozenset()
        self.brands: frozenset[str] = frozenset()
        self.min_total = 0
        self.first_purchase = False
        self.coupon = False
        for condition in d.conditions:
            if isinstance(condition, Window):
                self.window = (condition.starts_at, condition.ends_at)
            elif isinstance(condition, Schedule):
                self.weekdays = frozenset(condition.weekdays) or None
                self.hours = (condition.hour_from, condition.hour_to)
            elif isinstance(condition, Stores):
                self.stores = frozenset(condition.codes)
            elif isinstance(condition, Tiers):
                self.tiers = frozenset(condition.names)
            elif isinstance(condition, Segments):
                self.segments = frozenset(condition.ids)
            elif isinstance(condition, Lines):
                self.categories = frozenset(condition.categories)
                self.skus = frozenset(condition.skus)
                self.brands = frozenset(condition.brands)
            elif isinstance(condition, MinTotal):
                self.min_total = condition.kopecks
            elif isinstance(condition, FirstPurchase):
                self.first_purchase = True
            elif isinstance(condition, Coupon):
                self.coupon = True
        # A condition on who, where or when beyond the window (the window is checked inline).
        self.contextual = bool(
            self.weekdays is not None
            or self.hours is not None
            or self.stores is not None
            or self.tiers is not None
            or self.segments is not None
            or self.first_purchase
            or self.coupon
        )
        self.stacking = d.stacking
        self.group = d.group
        # Each effect with its evaluator and kind tag, looked up once here, not per receipt.
        self.discounts: list[tuple[DiscountEffect, Any, str]] = []
        self.points: list[tuple[PointsEffect, Any, str]] = []
        for effect in d.effects:
            kind = kind_of(effect)
            if kind in DISCOUNT_KINDS:
                self.discounts.append((DISCOUNT_EFFECTS[kind], effect, kind))
            else:
                self.points.append((POINTS_EFFECTS[kind], effect, kind))
        # Refusals whose words do not depend on the receipt's amounts, made once (see ``said``).
        self._said: dict[object, NotApplied] = {}
        self._money: dict[int, tuple[str, str]] = {}
        budget = d.budget
        self.budgeted = any(
            value is not None
            for value in (
                budget.points,
                budget.kopecks,
                budget.shopper_points,
                budget.shopper_kopecks,
            )
        )

    def said(self, key: object, why: Why) -> NotApplied:
        """The refusal ``why`` gives, kept under ``key`` for the next receipt: the words
        of "not this store" or "lost to promotion X" are the same on every receipt, and
        formatting them (money, names, both languages) cost more than deciding them. Only
        keys from a small set (a code, a tier, a rival promotion) are passed in."""
        found = self._said.get(key)
        if found is None:
            code, ru, en = why()
            found = NotApplied(
                promotion_id=self.id, name=self.name, code=code, reason_ru=ru, reason_en=en
            )
            self._said[key] = found
        return found

    def money(self, kopecks: int) -> tuple[str, str]:
        """One of the promotion's own amounts (a threshold, a minimum total) in Russian and
        English, formatted once: only its constants are passed in, never a receipt's sums."""
        found = self._money.get(kopecks)
        if found is None:
            found = self._money[kopecks] = words.money_both(kopecks)
        return found

    @property
    def scoped(self) -> bool:
        return self.categories is not None

    def in_scope(self, item: Item) -> bool:
        if self.categories is None:
            return True
        return (
            item.category in self.categories
            or item.sku in self.skus
            or (item.brand is not None and item.brand in self.brands)
        )


class Catalogue:
    """The active promotions in evaluation order (priority, then id), built once per
    change of the set (the process's cache), not per receipt."""

    def __init__(self, promotions: Iterable[Compiled]) -> None:
        self.promotions = sorted(promotions, key=lambda c: (-c.d.priority, c.id))
        self.by_id = {c.id: c for c in self.promotions}
        self.segment_ids = frozenset(
            s for c in self.promotions if c.segments is not None for s in c.segments
        )
        self.needs_first_purchase = any(c.first_purchase for c in self.promotions)
        self.budgeted = [c.id for c in self.promotions if c.budgeted]
        # Which promotions a line can touch, with each one's place in the order: a receipt
        # looks at the promotions its lines name plus the ones for every line, not all.
        self._everywhere = [(n, c) for n, c in enumerate(self.promotions) if not c.scoped]
        self._by_category: dict[str, list[tuple[int, Compiled]]] = {}
        self._by_sku: dict[str, list[tuple[int, Compiled]]] = {}
        self._by_brand: dict[str, list[tuple[int, Compiled]]] = {}
        for n, c in enumerate(self.promotions):
            if c.scoped:
                for table, values in (
                    (self._by_category, c.categories or ()),
                    (self._by_sku, c.skus),
                    (self._by_brand, c.brands),
                ):
                    for value in values:
                        table.setdefault(value, []).append((n, c))

    def candidates(self, items: Sequence[Item]) -> list[tuple[Compiled, list[int]]]:
        """The promotions that could touch these lines, in evaluation order, each with the
        lines it names (every line, for a promotion not limited to some lines)."""
        found: dict[int, tuple[Compiled, list[int]]] = {}
        by_category, by_sku, by_brand = self._by_category, self._by_sku, self._by_brand
        for i, item in enumerate(items):
            for table, value in (
                (by_category, item.category),
                (by_sku, item.sku),
                (by_brand, item.brand),
            ):
                if value is None:
                    continue
                for n, c in table.get(value, ()):
                    entry = found.get(n)
                    if entry is None:
                        found[n] = (c, [i])
                    elif entry[1][-1] != i:  # the line named twice (its category and SKU)
                        entry[1].append(i)
        if self._everywhere:
            every = list(range(len(items)))
            for n, c in self._everywhere:
                found[n] = (c, every)
        return [found[n] for n in sorted(found)]


def _no(c: Compiled, code: str, ru: str, en: str) -> NotApplied:
    return NotApplied(promotion_id=c.id, name=c.name, code=code, reason_ru=ru, reason_en=en)


_NOT_STARTED = why("not_started", "акция ещё не началась", "the promotion has not started")
_ENDED = why("ended", "акция закончилась", "the promotion has ended")
_WRONG_WEEKDAY = why("wrong_weekday", "не в этот день недели", "not on this weekday")
_NOT_THIS_STORE = why("not_this_store", "не в этом магазине", "not this store")
_NOT_IN_SEGMENT = why(
    "not_in_segment", "покупатель не в группе акции", "shopper not in its segments"
)
_NOT_FIRST = why("not_first_purchase", "только на первую покупку", "first purchase only")
_NO_COUPON = why("no_coupon", "нет купона", "not applicable: no coupon")
_BUDGET_EXHAUSTED = why("budget_exhausted", "бюджет акции исчерпан", "budget exhausted")
_NO_LINES = why(
    "no_matching_lines", "в чеке нет товаров акции", "no line of the promotion on the receipt"
)


def _context_refusal(c: Compiled, shopper: Shopper) -> NotApplied | None:
    if c.window is not None:
        if shopper.at < c.window[0]:
            return c.said("not_started", _NOT_STARTED)
        if shopper.at >= c.window[1]:
            return c.said("ended", _ENDED)
    if c.weekdays is not None and shopper.local.isoweekday() not in c.weekdays:
        return c.said("wrong_weekday", _WRONG_WEEKDAY)
    if c.hours is not None and not c.hours[0] <= shopper.local.hour < c.hours[1]:
        start, end = c.hours
        return c.said(
            "wrong_hours",
            lambda: (
                "wrong_hours",
                f"только с {start}:00 до {end}:00",
                f"only from {start}:00 to {end}:00",
            ),
        )
    if c.stores is not None and shopper.store_code not in c.stores:
        return c.said("not_this_store", _NOT_THIS_STORE)
    if c.tiers is not None and shopper.tier not in c.tiers:
        tier = shopper.tier
        return c.said(
            ("tier", tier),
            lambda: ("tier_not_eligible", f"не для уровня «{tier}»", f"not for tier {tier!r}"),
        )
    if c.segments is not None and not c.segments & shopper.segments:
        return c.said("not_in_segment", _NOT_IN_SEGMENT)
    if c.first_purchase and not shopper.first_purchase:
        return c.said("not_first_purchase", _NOT_FIRST)
    if c.coupon and str(c.id) not in shopper.coupons:
        return c.said("no_coupon", _NO_COUPON)
    return None


class Chosen(msgspec.Struct):
    """A promotion that passed its conditions and the stacking, with its lines."""

    id: int
    scope: list[int]
    discount: int = 0


class Discounted(msgspec.Struct):
    discounts: list[list[LineDiscount]]
    net: list[int]
    points_share_bp: list[int]
    chosen: list[Chosen]
    not_applied: list[NotApplied]


def _scope(
    c: Compiled, items: Sequence[Item], matching: list[int], excluded: frozenset[str]
) -> tuple[list[int], NotApplied | None]:
    """The lines the promotion may touch: those it names, less the excluded categories."""
    scope = [i for i in matching if items[i].category not in excluded] if excluded else matching
    if scope:
        return scope, None
    if matching:
        what = ", ".join(sorted({items[i].category for i in matching}))
        return [], c.said(
            ("excluded", what),
            lambda: (
                "excluded_category",
                f"исключённая категория: {what}",
                f"excluded category: {what}",
            ),
        )
    return [], c.said("no_matching_lines", _NO_LINES)


def _base_points(net: Sequence[int], shopper: Shopper, pv: int) -> list[int]:
    """Each line's tier points at its price, for the estimates (paid = price)."""
    rate = shopper.tier_rate_bp
    return [amount * rate // (FULL * pv) for amount in net]


def _estimate(c: Compiled, items: Sequence[Item], scope: list[int], on: OnReceipt) -> int:
    """What the promotion is worth to the shopper on this receipt, in kopecks (to pick the
    best of a group): its discounts plus its points at their value, paid = price."""
    value = 0
    for evaluate, effect, _ in c.discounts:
        found, _ = evaluate(effect, items, scope, on.net)
        value += sum(found.values())
    for evaluate_points, effect, _ in c.points:
        found, _ = evaluate_points(c, effect, items, scope, on)
        value += sum(found.values()) * on.pv
    return value


def discount(
    catalogue: Catalogue,
    items: Sequence[Item],
    shopper: Shopper,
    *,
    excluded: frozenset[str],
    left: Mapping[int, Left],
    point_value_kopecks: int,
    check_context: bool = True,
) -> Discounted:
    """Phase 1: which promotions apply and the money they take off each line.

    ``check_context=False`` skips the conditions on who, where and when (a return
    re-prices what is kept with the promotions the sale already passed)."""
    pv = point_value_kopecks
    total = sum(item.amount for item in items)
    not_applied: list[NotApplied] = []
    eligible: list[tuple[Compiled, list[int]]] = []
    # A promotion for lines the receipt does not have is not considered at all: the till's
    # explanation lists what could have applied, not the chain's whole week.
    at = shopper.at
    # Most receipts have no line in an excluded category: then a promotion's lines are
    # the ones it names, with nothing to take out.
    clean = not any(item.category in excluded for item in items)
    for c, matching in catalogue.candidates(items):
        refusal = None
        if check_context:
            window = c.window
            if c.contextual or (window is not None and not window[0] <= at < window[1]):
                refusal = _context_refusal(c, shopper)
        if refusal is None:
            if clean and matching:
                scope = matching
            else:
                scope, refusal = _scope(c, items, matching, excluded)
        if refusal is None and total < c.min_total:
            (least_ru, least_en), (total_ru, total_en) = (
                c.money(c.min_total),
                words.money_both(total),
            )
            refusal = _no(
                c,
                "min_total_not_reached",
                f"минимальная сумма {least_ru} не набрана: {total_ru}",
                f"minimum total {least_en} not reached: {total_en}",
            )
        if refusal is None and left:
            spent = left.get(c.id)
            if spent is not None and (spent.points == 0 or spent.kopecks == 0):
                refusal = c.said("budget_exhausted", _BUDGET_EXHAUSTED)
        if refusal is not None:
            not_applied.append(refusal)
        else:
            eligible.append((c, scope))

    contested = len(eligible) > 1 and any(c.stacking != "stackable" for c, _ in eligible)
    winners = _stack(eligible, items, shopper, pv, not_applied) if contested else eligible

    net = [item.amount for item in items]
    discounts: list[list[LineDiscount]] = [[] for _ in items]
    share = [FULL] * len(items)
    chosen: list[Chosen] = []
    for c, scope in winners:
        given = 0
        reason: Why | None = None
        d = c.d
        for evaluate, effect, kind in c.discounts:
            found, why_not = evaluate(effect, items, scope, net)
            reason = reason or why_not
            lines = [i for i in found if found[i] > 0]
            line_share = d.max_line_discount_share_bp
            amounts = [min(found[i], net[i], items[i].amount * line_share // FULL) for i in lines]
            cap = total * d.max_receipt_discount_share_bp // FULL - given
            budget = left.get(c.id)
            if budget is not None and budget.kopecks is not None:
                cap = min(cap, budget.kopecks - given)
            if sum(amounts) > cap:
                amounts = spread(max(cap, 0), amounts)
            for i, kopecks in zip(lines, amounts, strict=True):
                if kopecks:
                    discounts[i].append(LineDiscount(promotion_id=c.id, kind=kind, kopecks=kopecks))
                    net[i] -= kopecks
                    given += kopecks
        if not given and not c.points:
            code, ru, en = (
                reason()
                if reason
                else ("nothing_to_give", "скидка не набралась", "no discount on these lines")
            )
            not_applied.append(_no(c, code, ru, en))
            continue
        if d.max_points_share_bp is not None:
            for i in scope:
                share[i] = min(share[i], d.max_points_share_bp)
        chosen.append(Chosen(id=c.id, scope=scope, discount=given))
    return Discounted(
        discounts=discounts, net=net, points_share_bp=share, chosen=chosen, not_applied=not_applied
    )


def _stack(
    eligible: list[tuple[Compiled, list[int]]],
    items: Sequence[Item],
    shopper: Shopper,
    pv: int,
    not_applied: list[NotApplied],
) -> list[tuple[Compiled, list[int]]]:
    """Within each stacking group: an exclusive promotion (the first by priority that is
    worth something) applies alone; otherwise the best-for-shopper one of the ``best``
    promotions applies, beside every ``stackable`` one."""
    groups: dict[str, list[tuple[Compiled, list[int]]]] = {}
    for entry in eligible:
        groups.setdefault(entry[0].group, []).append(entry)
    losers: set[int] = set()
    on: OnReceipt | None = None  # prices as they are, paid = price
    for group, members in groups.items():
        exclusives = [m for m in members if m[0].stacking == "exclusive"]
        best = [m for m in members if m[0].stacking == "best"]
        if not exclusives and len(best) < 2:
            continue
        if on is None:
            amounts = [item.amount for item in items]
            on = OnReceipt(amounts, amounts, _base_points(amounts, shopper, pv), pv)
        winner = None
        for c, scope in exclusives:
            if _estimate(c, items, scope, on) > 0:
                winner = c
                break
        if winner is not None:
            for c, _ in members:
                if c is not winner:
                    losers.add(c.id)
                    not_applied.append(c.said(("lost_to", winner.id), _lost(winner, group, True)))
            continue
        if len(best) < 2:
            continue
        values = [(_estimate(c, items, scope, on), c) for c, scope in best]
        top = max(values, key=lambda v: v[0])[1]  # the first of equal values: by priority
        for _, c in values:
            if c is not top:
                losers.add(c.id)
                not_applied.append(c.said(("lost_to", top.id), _lost(top, group, False)))
    return [entry for entry in eligible if entry[0].id not in losers] if losers else eligible


def _lost(winner: Compiled, group: str, exclusive: bool) -> Why:
    """Why a promotion gave way to ``winner`` in ``group`` (formatted only the first time:
    ``Compiled.said`` keeps it)."""

    def why() -> tuple[str, str, str]:
        label = f"«{group}»" if group else "по умолчанию"
        label_en = repr(group) if group else "(default)"
        if exclusive:
            return (
                "lost_to_exclusive",
                f"уступила акции «{winner.name}» (#{winner.id}), исключительной в группе {label}",
                f"lost to promotion {winner.name!r} (#{winner.id}) in exclusive group {label_en}",
            )
        return (
            "lost_to_better",
            f"выгоднее акция «{winner.name}» (#{winner.id}) в группе {label}",
            f"lost to promotion {winner.name!r} (#{winner.id}), better for the shopper in group {label_en}",
        )

    return why


class Awarded(msgspec.Struct):
    points: list[list[LinePoints]]
    per_line: list[int]
    applied: list[Applied]
    not_applied: list[NotApplied]


def award(
    catalogue: Catalogue,
    items: Sequence[Item],
    discounted: Discounted,
    *,
    paid: Sequence[int],
    base: Sequence[int],
    left: Mapping[int, Left],
    point_value_kopecks: int,
) -> Awarded:
    """Phase 2: the points of each applied promotion on each line, from the money paid
    (``paid``: after discounts and points) and the tier's points (``base``), within the
    promotion's budgets."""
    pv = point_value_kopecks
    on = OnReceipt(discounted.net, paid, base, pv)
    points: list[list[LinePoints]] = [[] for _ in items]
    per_line = [0] * len(items)
    applied: list[Applied] = []
    not_applied = list(discounted.not_applied)
    for chosen in discounted.chosen:
        c = catalogue.by_id[chosen.id]
        if not c.points:  # chosen for its discount, which is more than 0
            applied.append(
                Applied(promotion_id=c.id, name=c.name, discount_kopecks=chosen.discount, points=0)
            )
            continue
        given = 0
        reason: Why | None = None
        budget = left.get(c.id)
        cap: int | None = None
        if budget is not None:
            if budget.points is not None:
                cap = budget.points
            if budget.kopecks is not None:
                by_money = max(0, budget.kopecks - chosen.discount) // pv
                cap = by_money if cap is None else min(cap, by_money)
        for evaluate, effect, kind in c.points:
            found, why_not = evaluate(c, effect, items, chosen.scope, on)
            reason = reason or why_not
            lines = [i for i in found if found[i] > 0]
            amounts = [found[i] for i in lines]
            if cap is not None and sum(amounts) > cap - given:
                amounts = spread(max(cap - given, 0), amounts)
            for i, value in zip(lines, amounts, strict=True):
                if value:
                    points[i].append(LinePoints(promotion_id=c.id, kind=kind, points=value))
                    per_line[i] += value
                    given += value
        if not given and not chosen.discount:
            if c.points and cap == 0:
                reason = _BUDGET_EXHAUSTED
            code, ru, en = (
                reason()
                if reason
                else ("nothing_to_give", "баллы не набрались", "no points on these lines")
            )
            not_applied.append(_no(c, code, ru, en))
            continue
        applied.append(
            Applied(promotion_id=c.id, name=c.name, discount_kopecks=chosen.discount, points=given)
        )
    return Awarded(points=points, per_line=per_line, applied=applied, not_applied=not_applied)
