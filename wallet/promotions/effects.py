"""What each kind of promotion effect gives on a receipt's lines: pure functions of the
lines, the lines a promotion may touch (its scope) and the money on them, each returning
what it gives per line and, when it gives nothing, why (formatted only if reported).

- Discount effects (``DISCOUNT_EFFECTS``): kopecks off each line, on the current prices.
- Points effects (``POINTS_EFFECTS``): points on each line, from the price after
  discounts, the money paid and the tier's points (``OnReceipt``).

``engine`` decides which promotions apply and caps what they give; this module only says
what one effect would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import msgspec

from wallet import words
from wallet.promotions.schemas import (
    AmountOff,
    CheapestFree,
    Multiplier,
    NForM,
    PerAmount,
    PercentOff,
    Rate,
    ReceiptBonus,
    SetDeal,
    SkuBonus,
    ThresholdGift,
)

FULL = 10_000


class Item(msgspec.Struct, frozen=True):
    """A receipt line as the engine sees it."""

    sku: str
    category: str
    amount: int
    quantity: float = 1
    brand: str | None = None


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights``, in whole units summing to ``total``
    (largest remainder; ties go to the earlier line)."""
    weight_sum = sum(weights)
    if total == 0 or weight_sum == 0:
        return [0] * len(weights)
    shares = [total * weight // weight_sum for weight in weights]
    missing = total - sum(shares)
    if missing:  # none when the split is exact (always on a single line)
        order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
        for index in order[:missing]:
            shares[index] += 1
    return shares


Why = Callable[[], tuple[str, str, str]]
"""Why an effect gave nothing: (code, Russian, English), formatted only when a refusal is
reported. Best-of-group estimates evaluate effects whose refusals nobody reads, and the
money in a refusal costs more to format than the effect costs to evaluate."""


DiscountEffect = Callable[..., tuple[dict[int, int], Why | None]]
"""A discount effect's evaluator: (effect, items, scope, net) -> kopecks per line, and why
it gave nothing."""
PointsEffect = Callable[..., tuple[dict[int, int], Why | None]]
"""A points effect's evaluator: (the promotion's own amounts, effect, items, scope, the
receipt's amounts) -> points per line, and why it gave nothing."""


class OwnAmounts(Protocol):
    """A promotion's own amounts in words (``engine.Compiled``), formatted once."""

    def money(self, kopecks: int) -> tuple[str, str]: ...


class OnReceipt(NamedTuple):
    """What a points effect reads of the receipt, per line: the price after discounts
    (``net``), the money paid after points too (``paid``), the tier's points (``base``);
    and what a point is worth in kopecks (``pv``)."""

    net: Sequence[int]
    paid: Sequence[int]
    base: Sequence[int]
    pv: int


def why(code: str, ru: str, en: str) -> Why:
    """A reason whose words are known in advance."""
    return lambda: (code, ru, en)


def kind_of(condition_or_effect: object) -> str:
    """The ``kind`` tag a condition or an effect is sent with."""
    return str(type(condition_or_effect).__struct_config__.tag)  # type: ignore[attr-defined]


def units(item: Item) -> int:
    """Whole units on a line; a weighed line (1.25 kg) is one unit."""
    quantity = item.quantity
    return int(quantity) if quantity >= 1 and quantity == int(quantity) else 1


# ---- discount effects: {line index: kopecks} on the current prices ---------------------


def _unit_runs(
    items: Sequence[Item], scope: Sequence[int], net: Sequence[int]
) -> list[tuple[int, int, int]]:
    """(unit price, line, units) of the scope, cheapest first."""
    runs = []
    for i in scope:
        count = units(items[i])
        runs.append((net[i] // count, i, count))
    runs.sort()
    return runs


def _free_units(runs: list[tuple[int, int, int]], free: int) -> dict[int, int]:
    taken: dict[int, int] = {}
    for price, i, count in runs:
        if free <= 0:
            break
        n = min(count, free)
        if price:
            taken[i] = taken.get(i, 0) + price * n
        free -= n
    return taken


def _percent_off(
    effect: PercentOff, items: Sequence[Item], scope: Sequence[int], net: Sequence[int]
) -> tuple[dict[int, int], Why | None]:
    percent = effect.percent_bp
    return {i: net[i] * percent // FULL for i in scope}, None


def _amount_off(
    effect: AmountOff, items: Sequence[Item], scope: Sequence[int], net: Sequence[int]
) -> tuple[dict[int, int], Why | None]:
    return {i: min(net[i], effect.kopecks * units(items[i])) for i in scope}, None


def _n_for_m(
    effect: NForM, items: Sequence[Item], scope: Sequence[int], net: Sequence[int]
) -> tuple[dict[int, int], Why | None]:
    runs = _unit_runs(items, scope, net)
    total = sum(run[2] for run in runs)
    free = total // effect.take * (effect.take - effect.pay)
    if not free:
        take = effect.take
        return {}, lambda: (
            "not_enough_items",
            f"нужно {take} шт., в чеке {total}",
            f"needs {take} units, the receipt has {total}",
        )
    return _free_units(runs, free), None


def _cheapest_free(
    effect: CheapestFree, items: Sequence[Item], scope: Sequence[int], net: Sequence[int]
) -> tuple[dict[int, int], Why | None]:
    runs = _unit_runs(items, scope, net)
    total = sum(run[2] for run in runs)
    if total < effect.min_units:
        least = effect.min_units
        return {}, lambda: (
            "not_enough_items",
            f"нужно {least} шт., в чеке {total}",
            f"needs {least} units, the receipt has {total}",
        )
    return _free_units(runs, 1), None


def _set_deal(
    effect: SetDeal, items: Sequence[Item], scope: Sequence[int], net: Sequence[int]
) -> tuple[dict[int, int], Why | None]:
    by_sku: dict[str, list[int]] = {sku: [] for sku in effect.skus}
    for i in scope:
        if items[i].sku in by_sku:
            by_sku[items[i].sku].append(i)
    counts = {sku: sum(units(items[i]) for i in lines) for sku, lines in by_sku.items()}
    sets = min(counts.values()) if counts else 0
    if not sets:
        missing = ", ".join(sku for sku, n in counts.items() if n == 0)
        return {}, why(
            "set_incomplete", f"набор неполный: нет {missing}", f"set incomplete: no {missing}"
        )
    # Each SKU's unit at its average price on the receipt.
    unit_price = {sku: sum(net[i] for i in lines) // counts[sku] for sku, lines in by_sku.items()}
    set_price = sum(unit_price.values())
    if effect.price_kopecks is not None:
        per_set = max(0, set_price - effect.price_kopecks)
    else:
        per_set = set_price * (effect.percent_bp or 0) // FULL
    skus = list(by_sku)
    per_sku = spread(per_set * sets, [unit_price[sku] * sets for sku in skus])
    found: dict[int, int] = {}
    for sku, part in zip(skus, per_sku, strict=True):
        lines = by_sku[sku]
        for i, share in zip(lines, spread(part, [net[i] for i in lines]), strict=True):
            found[i] = found.get(i, 0) + share
    return found, None


# ---- points effects ---------------------------------------------------------------------


def _spread_over(points: int, scope: Sequence[int], weights: Sequence[int]) -> dict[int, int]:
    parts = [weights[i] for i in scope]
    if not any(parts):
        parts = [1] * len(scope)
    return dict(zip(scope, spread(points, parts), strict=True))


def _multiplier(
    own: OwnAmounts, effect: Multiplier, items: Sequence[Item], scope: Sequence[int], on: OnReceipt
) -> tuple[dict[int, int], Why | None]:
    more = effect.times - 1
    return {i: on.base[i] * more for i in scope}, None


def _rate(
    own: OwnAmounts, effect: Rate, items: Sequence[Item], scope: Sequence[int], on: OnReceipt
) -> tuple[dict[int, int], Why | None]:
    rate, per, paid, base = effect.rate_bp, FULL * on.pv, on.paid, on.base
    return {i: max(0, paid[i] * rate // per - base[i]) for i in scope}, None


def _receipt_bonus(
    own: OwnAmounts,
    effect: ReceiptBonus,
    items: Sequence[Item],
    scope: Sequence[int],
    on: OnReceipt,
) -> tuple[dict[int, int], Why | None]:
    return _spread_over(effect.points, scope, on.paid), None


def _per_amount(
    own: OwnAmounts, effect: PerAmount, items: Sequence[Item], scope: Sequence[int], on: OnReceipt
) -> tuple[dict[int, int], Why | None]:
    paid = on.paid
    paid_sum = sum(paid[i] for i in scope)
    points = paid_sum // effect.per_kopecks * effect.points
    if not points:
        per_ru, per_en = own.money(effect.per_kopecks)

        def why() -> tuple[str, str, str]:
            paid_ru, paid_en = words.money_both(paid_sum)
            return (
                "threshold_not_reached",
                f"нужно оплатить от {per_ru}: {paid_ru}",
                f"needs {per_en} paid: {paid_en}",
            )

        return {}, why
    return _spread_over(points, scope, paid), None


def _sku_bonus(
    own: OwnAmounts, effect: SkuBonus, items: Sequence[Item], scope: Sequence[int], on: OnReceipt
) -> tuple[dict[int, int], Why | None]:
    found = {i: effect.points * units(items[i]) for i in scope if items[i].sku == effect.sku}
    if not found:
        sku = effect.sku
        return {}, why("no_matching_lines", f"нет товара {sku}", f"no {sku} on the receipt")
    return found, None


def _threshold_gift(
    own: OwnAmounts,
    effect: ThresholdGift,
    items: Sequence[Item],
    scope: Sequence[int],
    on: OnReceipt,
) -> tuple[dict[int, int], Why | None]:
    net = on.net
    net_sum = sum(net[i] for i in scope)
    if net_sum < effect.threshold_kopecks:
        threshold_ru, threshold_en = own.money(effect.threshold_kopecks)

        def why() -> tuple[str, str, str]:
            net_ru, net_en = words.money_both(net_sum)
            return (
                "threshold_not_reached",
                f"порог {threshold_ru} не достигнут: {net_ru}",
                f"threshold {threshold_en} not reached: {net_en}",
            )

        return {}, why
    return _spread_over(effect.points, scope, net), None


DISCOUNT_EFFECTS: dict[str, DiscountEffect] = {
    "percent_off": _percent_off,
    "amount_off": _amount_off,
    "n_for_m": _n_for_m,
    "cheapest_free": _cheapest_free,
    "set": _set_deal,
}
POINTS_EFFECTS: dict[str, PointsEffect] = {
    "multiplier": _multiplier,
    "rate": _rate,
    "receipt_bonus": _receipt_bonus,
    "per_amount": _per_amount,
    "sku_bonus": _sku_bonus,
    "threshold_gift": _threshold_gift,
}
