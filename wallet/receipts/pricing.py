"""How a receipt and a return are priced in points: pure functions of the lines, the rules,
the tier and the balance (``price``, shared by the quote and the receipt so that they always
agree) and of the lines as sold and returned so far (``price_return``).

- Points may pay only for categories the rules allow, at most ``max_redeem_share_bp`` of
  those lines, and never more than the balance. Asking for more is an error, never a
  silent cut: the till must show the shopper the real number.
- Earning is on the money actually paid (after points) for categories that earn, at the
  tier's rate. Points are whole; the fraction is dropped once per receipt, not per line.
- Shares are spread over lines by the largest-remainder method so that every line knows
  its part exactly and a later return of one line reverses exactly that part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import msgspec

from wallet.errors import InvalidInput, RedemptionNotAllowed, ReturnExceedsReceipt
from wallet.promotions import engine
from wallet.promotions.engine import spread
from wallet.promotions.schemas import Applied, LineDiscount, NotApplied
from wallet.receipts.schemas import (
    EarnPart,
    Explanation,
    LineIn,
    LineResult,
    RedeemCap,
    ReturnLineIn,
    ReturnLineResult,
)
from wallet.rules.schemas import Rules


class SoldLine(msgspec.Struct, frozen=True):
    """A receipt line as sold and as returned so far (the ``receipt_line`` row)."""

    amount_kopecks: int
    earned_points: int
    redeemed_kopecks: int
    returned_kopecks: int = 0
    returned_earned_points: int = 0
    returned_redeemed_kopecks: int = 0
    sku: str = ""
    category: str = ""
    quantity: float = 1
    brand: str | None = None
    # Money the cashier took off the line by hand (given back in proportion on a return).
    manual_discount_kopecks: int = 0


class Pricing(msgspec.Struct, frozen=True):
    lines: list[LineResult]
    total_kopecks: int
    redeemed_points: int
    redeemed_kopecks: int
    paid_kopecks: int
    earned_points: int
    cap: RedeemCap
    explanation: Explanation
    discount_kopecks: int = 0
    # The tier's points (``earned_points`` less what promotions added).
    base_points: int = 0
    promotions: list[Applied] = []
    not_applied: list[NotApplied] = []


NO_PROMOTIONS = engine.Catalogue([])
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def items_of(lines: Sequence[LineIn]) -> list[engine.Item]:
    return [
        engine.Item(
            sku=line.sku,
            category=line.category,
            amount=line.amount,
            quantity=line.quantity,
            brand=line.brand,
        )
        for line in lines
    ]


def price(
    lines: Sequence[LineIn],
    *,
    rules: Rules,
    lifetime_spend_kopecks: int,
    balance: int,
    redeem_points: int,
    promotions: engine.Catalogue = NO_PROMOTIONS,
    shopper: engine.Shopper | None = None,
    left: Mapping[int, engine.Left] | None = None,
    manual: Sequence[int] | None = None,
) -> Pricing:
    """The receipt priced: promotions' discounts, then the tier's discount, then the
    cashier's (``manual``, kopecks per line, already checked against the store's limit),
    then points paying (within the tier's or the rules' share and the promotions'), then
    the tier's points on the money paid, then the promotions' points."""
    no_redeem = set(rules.no_redeem_categories)
    no_earn = set(rules.no_earn_categories)
    point_value = rules.point_value_kopecks
    amounts = [line.amount for line in lines]
    total = sum(amounts)
    tier = rules.tier_for(lifetime_spend_kopecks)
    items = items_of(lines)
    budgets = left or {}

    if promotions.promotions and shopper is not None:
        discounted = engine.discount(
            promotions,
            items,
            shopper,
            excluded=frozenset(no_earn | no_redeem),
            left=budgets,
            point_value_kopecks=point_value,
        )
    else:
        discounted = engine.Discounted(
            discounts=[[] for _ in lines],
            net=list(amounts),
            points_share_bp=[engine.FULL] * len(lines),
            chosen=[],
            not_applied=[],
        )
    net = discounted.net
    line_discounts = discounted.discounts
    if tier.discount_bp:
        for index, line in enumerate(lines):
            if line.category in no_redeem or line.category in no_earn:
                continue
            kopecks = min(net[index] * tier.discount_bp // 10_000, net[index])
            if kopecks > 0:
                net[index] -= kopecks
                # Not a promotion's (id 0): given back in proportion on a return, like the
                # cashier's discount, whatever the rest of the receipt does.
                line_discounts[index].append(
                    LineDiscount(promotion_id=0, kind="tier", kopecks=kopecks)
                )
    for index, kopecks in enumerate(manual or ()):
        kopecks = min(kopecks, net[index])
        if kopecks > 0:
            net[index] -= kopecks
            line_discounts[index].append(
                LineDiscount(promotion_id=0, kind="manual", kopecks=kopecks)
            )
    discount_total = total - sum(net)

    share_bp = tier.share_bp(rules.max_redeem_share_bp)
    share = [min(share_bp, bp) for bp in discounted.points_share_bp]
    weights = [
        0 if line.category in no_redeem else net[i] * share[i] for i, line in enumerate(lines)
    ]
    eligible = sum(net[i] for i, line in enumerate(lines) if line.category not in no_redeem)
    by_share = sum(weights) // (10_000 * point_value)
    cap = RedeemCap(
        cap=max(0, min(by_share, balance)),
        by_balance=max(0, balance),
        by_share=by_share,
        share_bp=share_bp,
        eligible_kopecks=eligible,
        excluded_categories=sorted({line.category for line in lines if line.category in no_redeem}),
    )
    if redeem_points > cap.cap:
        reason = "the balance" if cap.by_balance < cap.by_share else "the share of the receipt"
        raise RedemptionNotAllowed(
            f"points may pay at most {cap.cap} on this receipt (limited by {reason}); "
            f"{redeem_points} were asked",
            msgspec.to_builtins(cap) | {"requested": redeem_points},
        )

    redeemed_kopecks = redeem_points * point_value
    redeemed_per_line = spread(redeemed_kopecks, weights)
    paid_per_line = [n - red for n, red in zip(net, redeemed_per_line, strict=True)]

    earning_base = [
        0 if line.category in no_earn else paid
        for line, paid in zip(lines, paid_per_line, strict=True)
    ]
    base = sum(earning_base)
    earned = base * tier.earn_rate_bp // (10_000 * point_value)
    earned_per_line = spread(earned, earning_base)

    awarded = engine.award(
        promotions,
        items,
        discounted,
        paid=paid_per_line,
        base=earned_per_line,
        left=budgets,
        point_value_kopecks=point_value,
    )

    results = []
    for index, line in enumerate(lines):
        notes = []
        if line.category in no_redeem:
            notes.append(f"points cannot pay for {line.category}")
        if line.category in no_earn:
            notes.append(f"{line.category} earns no points")
        results.append(
            LineResult(
                line=index + 1,
                sku=line.sku,
                category=line.category,
                amount=line.amount,
                redeemed_kopecks=redeemed_per_line[index],
                paid_kopecks=paid_per_line[index],
                earned_points=earned_per_line[index] + awarded.per_line[index],
                notes=notes,
                discount_kopecks=line.amount - net[index],
                discounts=line_discounts[index],
                promotion_points=awarded.points[index],
            )
        )
    promo_points = sum(awarded.per_line)
    explanation = Explanation(
        redeem=cap,
        earn=[
            EarnPart(
                rule=f"tier: {tier.name}",
                rate_bp=tier.earn_rate_bp,
                base_kopecks=base,
                points=earned,
            )
        ]
        + [
            EarnPart(
                rule=f"promotion {applied.promotion_id}: {applied.name}",
                rate_bp=0,
                base_kopecks=0,
                points=applied.points,
            )
            for applied in awarded.applied
            if applied.points
        ],
        tier=tier.name,
        point_value_kopecks=point_value,
        rules_version=rules.id,
    )
    return Pricing(
        lines=results,
        total_kopecks=total,
        redeemed_points=redeem_points,
        redeemed_kopecks=redeemed_kopecks,
        paid_kopecks=total - discount_total - redeemed_kopecks,
        earned_points=earned + promo_points,
        cap=cap,
        explanation=explanation,
        discount_kopecks=discount_total,
        base_points=earned,
        promotions=awarded.applied,
        not_applied=awarded.not_applied,
    )


class ReturnedLine(msgspec.Struct, frozen=True):
    """What a return does to one line: this return's part and the line's new cumulative
    totals (what was returned, reversed and given back of it so far)."""

    result: ReturnLineResult
    returned_kopecks: int
    returned_earned_points: int
    returned_redeemed_kopecks: int


class PromotionBack(msgspec.Struct, frozen=True):
    """What a return takes back of one promotion: the discount the kept goods no longer
    earn (out of the refund) and its points (from the shopper)."""

    promotion_id: int
    discount_kopecks: int
    points: int


class ReturnPricing(msgspec.Struct, frozen=True):
    lines: list[ReturnedLine]
    returned_kopecks: int
    refund_money_kopecks: int
    reverse_points: int
    refund_points: int
    promotions: list[PromotionBack] = []


def price_return(
    receipt_id: str,
    lines: dict[int, SoldLine],
    wanted: list[ReturnLineIn] | None,
    *,
    redeemed_points: int,
    refunded_points: int,
    point_value_kopecks: int,
    promotions: engine.Catalogue = NO_PROMOTIONS,
    kept: Mapping[int, tuple[int, int]] | None = None,
    excluded: frozenset[str] = frozenset(),
) -> ReturnPricing:
    """What returning ``wanted`` (None: the whole receipt) of a receipt's ``lines`` reverses
    and gives back, given what earlier returns took.

    Each line keeps cumulative totals, so returning it in parts never reverses or refunds
    more than the line had, and returning all of it reverses exactly what it earned. The
    points given back are what the returned lines redeemed, in whole points, never more
    than the receipt redeemed: ``refund_points`` may be 0 (or below, if rounding already
    gave back more, in which case nothing is given).

    Promotions (``promotions``: those the sale applied; ``kept``: per promotion the
    discount and points not yet taken back) are re-priced on what the shopper keeps: a
    return that breaks a 1+1, a set or a threshold takes the difference out of the money
    refunded and takes back the points, never more than the sale gave.
    """
    items = wanted or [ReturnLineIn(line=line_no) for line_no in sorted(lines)]
    returned_redeemed = {no: line.returned_redeemed_kopecks for no, line in lines.items()}
    cumulative_of = {no: line.returned_kopecks for no, line in lines.items()}
    earned_back = {no: line.returned_earned_points for no, line in lines.items()}
    seen: set[int] = set()
    done: list[tuple[int, int, int, int, int, int]] = []
    reverse_points = returned_total = redeemed_total = manual_back = 0
    for item in items:
        line = lines.get(item.line)
        if line is None or item.line in seen:
            raise InvalidInput(
                f"receipt {receipt_id} has no line {item.line}"
                if line is None
                else f"line {item.line} is listed twice",
                {"line": item.line, "lines_on_receipt": len(lines)},
            )
        seen.add(item.line)
        left = line.amount_kopecks - line.returned_kopecks
        amount = left if item.amount is None else item.amount
        if left == 0 and wanted is None:
            continue  # a whole-receipt return skips lines already returned
        if amount > left or amount == 0:
            raise ReturnExceedsReceipt(
                f"line {item.line} of receipt {receipt_id} has {left} kopecks left to "
                f"return; {amount} were asked",
                {"line": item.line, "returnable_kopecks": left},
            )
        cumulative = line.returned_kopecks + amount
        full = line.amount_kopecks
        earned_target = line.earned_points * cumulative // full if full else 0
        redeemed_target = line.redeemed_kopecks * cumulative // full if full else 0
        manual = line.manual_discount_kopecks
        if full:
            manual_back += manual * cumulative // full - manual * line.returned_kopecks // full
        reversed_now = earned_target - line.returned_earned_points
        redeemed_now = redeemed_target - line.returned_redeemed_kopecks
        returned_redeemed[item.line] = redeemed_target
        cumulative_of[item.line] = cumulative
        earned_back[item.line] = earned_target
        reverse_points += reversed_now
        returned_total += amount
        redeemed_total += redeemed_now
        done.append((item.line, amount, redeemed_now, reversed_now, cumulative, earned_target))
    if not done:
        raise ReturnExceedsReceipt(
            f"receipt {receipt_id} has been returned in full already", {"receipt_id": receipt_id}
        )
    backs = _promotions_back(
        lines,
        cumulative_of,
        returned_redeemed,
        earned_back,
        promotions=promotions,
        kept=kept or {},
        excluded=excluded,
        point_value_kopecks=point_value_kopecks,
    )
    discount_back = sum(back.discount_kopecks for back in backs)
    # The money back is what the returned goods cost after what the kept goods no longer
    # earn in discounts; never below 0 (a shop cannot ask the shopper for money back).
    money_total = max(0, returned_total - redeemed_total - manual_back - discount_back)
    money = spread(money_total, [max(0, entry[1] - entry[2]) for entry in done])
    refund_target = sum(returned_redeemed.values()) // point_value_kopecks
    return ReturnPricing(
        lines=[
            ReturnedLine(
                result=ReturnLineResult(
                    line=line_no,
                    returned_kopecks=amount,
                    refund_money_kopecks=money_part,
                    reversed_points=reversed_now,
                ),
                returned_kopecks=cumulative,
                returned_earned_points=earned_target,
                returned_redeemed_kopecks=returned_redeemed[line_no],
            )
            for (line_no, amount, _, reversed_now, cumulative, earned_target), money_part in zip(
                done, money, strict=True
            )
        ],
        returned_kopecks=returned_total,
        refund_money_kopecks=sum(money),
        reverse_points=reverse_points + sum(back.points for back in backs),
        refund_points=min(refund_target, redeemed_points) - refunded_points,
        promotions=backs,
    )


def _promotions_back(
    lines: dict[int, SoldLine],
    cumulative_of: dict[int, int],
    returned_redeemed: dict[int, int],
    earned_back: dict[int, int],
    *,
    promotions: engine.Catalogue,
    kept: Mapping[int, tuple[int, int]],
    excluded: frozenset[str],
    point_value_kopecks: int,
) -> list[PromotionBack]:
    """Each applied promotion re-priced on the goods still kept."""
    if not kept:
        return []
    numbers = [no for no in sorted(lines) if lines[no].amount_kopecks > cumulative_of[no]]
    items = []
    for no in numbers:
        line = lines[no]
        amount = line.amount_kopecks - cumulative_of[no]
        quantity = line.quantity * amount / line.amount_kopecks
        items.append(
            engine.Item(
                sku=line.sku,
                category=line.category,
                amount=amount,
                quantity=round(quantity) if abs(quantity - round(quantity)) < 1e-6 else quantity,
                brand=line.brand,
            )
        )
    found_discount: dict[int, int] = {}
    found_points: dict[int, int] = {}
    if items and promotions.promotions:
        nobody = engine.Shopper(store_code="", at=_EPOCH, local=_EPOCH, tier="", tier_rate_bp=0)
        discounted = engine.discount(
            promotions,
            items,
            nobody,
            excluded=excluded,
            left={},
            point_value_kopecks=point_value_kopecks,
            check_context=False,
        )
        manual = [
            lines[no].manual_discount_kopecks * items[k].amount // lines[no].amount_kopecks
            for k, no in enumerate(numbers)
        ]
        paid = [
            max(
                0,
                discounted.net[k]
                - manual[k]
                - (lines[no].redeemed_kopecks - returned_redeemed[no]),
            )
            for k, no in enumerate(numbers)
        ]
        base = [lines[no].earned_points - earned_back[no] for no in numbers]
        awarded = engine.award(
            promotions,
            items,
            discounted,
            paid=paid,
            base=base,
            left={},
            point_value_kopecks=point_value_kopecks,
        )
        for chosen in discounted.chosen:
            found_discount[chosen.id] = chosen.discount
        for applied in awarded.applied:
            found_points[applied.promotion_id] = applied.points
    backs = []
    for promotion_id, (discount_kept, points_kept) in sorted(kept.items()):
        discount_now = min(found_discount.get(promotion_id, 0), discount_kept)
        points_now = min(found_points.get(promotion_id, 0), points_kept)
        if discount_now < discount_kept or points_now < points_kept:
            backs.append(
                PromotionBack(
                    promotion_id=promotion_id,
                    discount_kopecks=discount_kept - discount_now,
                    points=points_kept - points_now,
                )
            )
    return backs
