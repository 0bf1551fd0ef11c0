"""``price_return``: returning a receipt in any number of parts reverses exactly what it
earned and gives back exactly what it redeemed, never more (property tests, no database)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.errors import InvalidInput, ReturnExceedsReceipt
from wallet.receipts.pricing import SoldLine, price_return
from wallet.receipts.schemas import ReturnLineIn

POINT = 100  # kopecks a point is worth


@st.composite
def sales(draw: st.DrawFn) -> tuple[dict[int, SoldLine], list[list[int]], int]:
    """Lines as sold, each cut into a list of parts returned one after another, and the
    points the receipt redeemed."""
    count = draw(st.integers(1, 4))
    lines: dict[int, SoldLine] = {}
    parts: list[list[int]] = []
    for no in range(1, count + 1):
        amount = draw(st.integers(1, 200_000))
        redeemed = draw(st.integers(0, amount // 2))
        lines[no] = SoldLine(
            amount_kopecks=amount,
            earned_points=draw(st.integers(0, amount // 100)),
            redeemed_kopecks=redeemed,
        )
        cuts = sorted(draw(st.sets(st.integers(1, amount - 1), max_size=3))) if amount > 1 else []
        bounds = [0, *cuts, amount]
        parts.append([hi - lo for lo, hi in itertools.pairwise(bounds)])
    redeemed_points = sum(line.redeemed_kopecks for line in lines.values()) // POINT
    return lines, parts, redeemed_points


def _apply(lines: dict[int, SoldLine], priced) -> dict[int, SoldLine]:  # type: ignore[no-untyped-def]
    after = dict(lines)
    for line in priced.lines:
        old = after[line.result.line]
        after[line.result.line] = SoldLine(
            amount_kopecks=old.amount_kopecks,
            earned_points=old.earned_points,
            redeemed_kopecks=old.redeemed_kopecks,
            returned_kopecks=line.returned_kopecks,
            returned_earned_points=line.returned_earned_points,
            returned_redeemed_kopecks=line.returned_redeemed_kopecks,
        )
    return after


@given(sales())
def test_returning_in_parts_reverses_and_refunds_exactly_what_the_sale_had(sale) -> None:  # type: ignore[no-untyped-def]
    lines, parts, redeemed_points = sale
    reversed_points = refunded = money = 0
    rounds = max(len(p) for p in parts)
    for index in range(rounds):
        wanted = [
            ReturnLineIn(line=no, amount=line_parts[index])
            for no, line_parts in enumerate(parts, start=1)
            if index < len(line_parts)
        ]
        priced = price_return(
            "R1",
            lines,
            wanted,
            redeemed_points=redeemed_points,
            refunded_points=refunded,
            point_value_kopecks=POINT,
        )
        assert priced.reverse_points >= 0 and priced.refund_points >= 0
        reversed_points += priced.reverse_points
        refunded += priced.refund_points
        money += priced.refund_money_kopecks
        lines = _apply(lines, priced)
    assert reversed_points == sum(line.earned_points for line in lines.values())
    assert refunded == redeemed_points
    paid = sum(line.amount_kopecks - line.redeemed_kopecks for line in lines.values())
    assert money == paid
    with pytest.raises(ReturnExceedsReceipt):
        price_return(
            "R1",
            lines,
            None,
            redeemed_points=redeemed_points,
            refunded_points=refunded,
            point_value_kopecks=POINT,
        )


@given(sales())
def test_a_whole_return_equals_the_sum_of_its_lines(sale) -> None:  # type: ignore[no-untyped-def]
    lines, _parts, redeemed_points = sale
    whole = price_return(
        "R1",
        lines,
        None,
        redeemed_points=redeemed_points,
        refunded_points=0,
        point_value_kopecks=POINT,
    )
    assert whole.returned_kopecks == sum(line.amount_kopecks for line in lines.values())
    assert whole.reverse_points == sum(line.earned_points for line in lines.values())
    assert whole.refund_points == redeemed_points


def test_a_line_asked_twice_or_missing_is_refused() -> None:
    lines = {1: SoldLine(amount_kopecks=1000, earned_points=5, redeemed_kopecks=0)}
    for wanted in ([ReturnLineIn(line=1), ReturnLineIn(line=1)], [ReturnLineIn(line=2)]):
        with pytest.raises(InvalidInput):
            price_return(
                "R1", lines, wanted, redeemed_points=0, refunded_points=0, point_value_kopecks=POINT
            )
