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

from collections.abc import Sequence

import msgspec

from wallet.errors import InvalidInput, RedemptionNotAllowed, ReturnExceedsReceipt
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


class Pricing(msgspec.Struct, frozen=True):
    lines: list[LineResult]
    total_kopecks: int
    redeemed_points: int
    redeemed_kopecks: int
    paid_kopecks: int
    earned_points: int
    cap: RedeemCap
    explanation: Explanation


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights``, in whole units summing to ``total``
    (largest remainder; ties go to the earlier line)."""
    weight_sum = sum(weights)
    if total == 0 or weight_sum == 0:
        return [0] * len(weights)
    shares = [total * weight // weight_sum for weight in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for index in remainders[: total - sum(shares)]:
        shares[index] += 1
    return shares


def price(
    lines: Sequence[LineIn],
    *,
    rules: Rules,
    lifetime_spend_kopecks: int,
    balance: int,
    redeem_points: int,
) -> Pricing:
    no_redeem = set(rules.no_redeem_categories)
    no_earn = set(rules.no_earn_categories)
    point_value = rules.point_value_kopecks
    amounts = [line.amount for line in lines]
    total = sum(amounts)

    redeemable = [0 if line.category in no_redeem else line.amount for line in lines]
    eligible = sum(redeemable)
    by_share = eligible * rules.max_redeem_share_bp // (10_000 * point_value)
    cap = RedeemCap(
        cap=max(0, min(by_share, balance)),
        by_balance=max(0, balance),
        by_share=by_share,
        share_bp=rules.max_redeem_share_bp,
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
    redeemed_per_line = spread(redeemed_kopecks, redeemable)
    paid_per_line = [amount - red for amount, red in zip(amounts, redeemed_per_line, strict=True)]

    tier = rules.tier_for(lifetime_spend_kopecks)
    earning_base = [
        0 if line.category in no_earn else paid
        for line, paid in zip(lines, paid_per_line, strict=True)
    ]
    base = sum(earning_base)
    earned = base * tier.earn_rate_bp // (10_000 * point_value)
    earned_per_line = spread(earned, earning_base)

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
                earned_points=earned_per_line[index],
                notes=notes,
            )
        )
    explanation = Explanation(
        redeem=cap,
        earn=[
            EarnPart(
                rule=f"tier: {tier.name}",
                rate_bp=tier.earn_rate_bp,
                base_kopecks=base,
                points=earned,
            )
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
        paid_kopecks=total - redeemed_kopecks,
        earned_points=earned,
        cap=cap,
        explanation=explanation,
    )


class ReturnedLine(msgspec.Struct, frozen=True):
    """What a return does to one line: this return's part and the line's new cumulative
    totals (what was returned, reversed and given back of it so far)."""

    result: ReturnLineResult
    returned_kopecks: int
    returned_earned_points: int
    returned_redeemed_kopecks: int


class ReturnPricing(msgspec.Struct, frozen=True):
    lines: list[ReturnedLine]
    returned_kopecks: int
    refund_money_kopecks: int
    reverse_points: int
    refund_points: int


def price_return(
    receipt_id: str,
    lines: dict[int, SoldLine],
    wanted: list[ReturnLineIn] | None,
    *,
    redeemed_points: int,
    refunded_points: int,
    point_value_kopecks: int,
) -> ReturnPricing:
    """What returning ``wanted`` (None: the whole receipt) of a receipt's ``lines`` reverses
    and gives back, given what earlier returns took.

    Each line keeps cumulative totals, so returning it in parts never reverses or refunds
    more than the line had, and returning all of it reverses exactly what it earned. The
    points given back are what the returned lines redeemed, in whole points, never more
    than the receipt redeemed: ``refund_points`` may be 0 (or below, if rounding already
    gave back more, in which case nothing is given).
    """
    items = wanted or [ReturnLineIn(line=line_no) for line_no in sorted(lines)]
    returned_redeemed = {no: line.returned_redeemed_kopecks for no, line in lines.items()}
    seen: set[int] = set()
    done: list[ReturnedLine] = []
    reverse_points = returned_total = money_total = 0
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
        reversed_now = earned_target - line.returned_earned_points
        redeemed_now = redeemed_target - line.returned_redeemed_kopecks
        returned_redeemed[item.line] = redeemed_target
        reverse_points += reversed_now
        returned_total += amount
        money_total += amount - redeemed_now
        done.append(
            ReturnedLine(
                result=ReturnLineResult(
                    line=item.line,
                    returned_kopecks=amount,
                    refund_money_kopecks=amount - redeemed_now,
                    reversed_points=reversed_now,
                ),
                returned_kopecks=cumulative,
                returned_earned_points=earned_target,
                returned_redeemed_kopecks=redeemed_target,
            )
        )
    if not done:
        raise ReturnExceedsReceipt(
            f"receipt {receipt_id} has been returned in full already", {"receipt_id": receipt_id}
        )
    refund_target = sum(returned_redeemed.values()) // point_value_kopecks
    return ReturnPricing(
        lines=done,
        returned_kopecks=returned_total,
        refund_money_kopecks=money_total,
        reverse_points=reverse_points,
        refund_points=min(refund_target, redeemed_points) - refunded_points,
    )
