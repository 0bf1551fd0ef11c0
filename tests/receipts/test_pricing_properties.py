"""What the till shows a shopper is one pure function, ``pricing.price`` (with ``spread``
sharing points and earnings over the lines): its promises, for generated receipts, rules,
tiers and balances."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.errors import RedemptionNotAllowed
from wallet.receipts.pricing import price, spread
from wallet.receipts.schemas import LineIn
from wallet.rules.schemas import Rules, Tier

CATEGORIES = ["grocery", "household", "alcohol", "tobacco", "pharmacy"]

lines = st.lists(
    st.builds(
        LineIn,
        sku=st.just("SKU-1"),
        category=st.sampled_from(CATEGORIES),
        quantity=st.just(1.0),
        amount=st.one_of(st.integers(0, 100_000_00), st.sampled_from([0, 1, 99, 100, 101])),
    ),
    min_size=1,
    max_size=8,
)
rules_strategy = st.builds(
    lambda earn, tiers, no_earn, no_redeem, share, point_value: Rules(
        id=7,
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        program_name="Программа",
        earn_rate_bp=earn,
        tiers=tiers,
        no_earn_categories=sorted(no_earn),
        no_redeem_categories=sorted(no_redeem),
        max_redeem_share_bp=share,
        validity_months=6,
        pending_days=0,
        point_value_kopecks=point_value,
    ),
    earn=st.integers(0, 10_000),
    tiers=st.lists(
        st.builds(
            Tier,
            name=st.sampled_from(["Базовый", "Золотой"]),
            min_spend_kopecks=st.integers(0, 3_000_000),
            earn_rate_bp=st.integers(0, 10_000),
        ),
        max_size=3,
    ),
    no_earn=st.sets(st.sampled_from(CATEGORIES)),
    no_redeem=st.sets(st.sampled_from(CATEGORIES)),
    share=st.one_of(st.integers(0, 10_000), st.sampled_from([0, 2_000, 9_900, 10_000])),
    point_value=st.one_of(st.integers(1, 1_000), st.sampled_from([1, 100])),
)
spends = st.integers(0, 5_000_000)
balances = st.one_of(st.integers(0, 10_000_000), st.sampled_from([0, 1, 100]))


@st.composite
def receipts(draw: st.DrawFn) -> tuple[list[LineIn], Rules, int, int, int]:
    """Lines, rules, lifetime spend, balance, and points asked that the cap allows
    (zero, the cap itself, or anything between)."""
    receipt_lines = draw(lines)
    rules = draw(rules_strategy)
    spend, balance = draw(spends), draw(balances)
    cap = price(
        receipt_lines, rules=rules, lifetime_spend_kopecks=spend, balance=balance, redeem_points=0
    ).cap.cap
    asked = draw(st.one_of(st.just(0), st.just(cap), st.integers(0, cap)))
    return receipt_lines, rules, spend, balance, asked


@given(
    total=st.integers(0, 10**9),
    weights=st.lists(st.integers(0, 10**7), min_size=1, max_size=12),
)
def test_spread_allocates_exactly_the_total_in_whole_non_negative_shares(total, weights):
    shares = spread(total, weights)
    assert len(shares) == len(weights)
    assert all(isinstance(share, int) and share >= 0 for share in shares)
    if sum(weights) == 0:
        assert shares == [0] * len(weights)
        return
    assert sum(shares) == total
    for share, weight in zip(shares, weights, strict=True):
        # Each line gets its exact proportion rounded down or up, never further off.
        exact_floor = total * weight // sum(weights)
        assert exact_floor <= share <= exact_floor + 1
        if weight == 0:
            assert share == 0
        if total <= sum(weights):
            # Points never pay more than a line costs.
            assert share <= weight
    assert spread(total, list(weights)) == shares


@given(receipts())
def test_points_never_exceed_the_balance_the_share_or_pay_for_excluded_lines(receipt):
    receipt_lines, rules, spend, balance, asked = receipt
    result = price(
        receipt_lines,
        rules=rules,
        lifetime_spend_kopecks=spend,
        balance=balance,
        redeem_points=asked,
    )
    eligible = sum(
        ln.amount for ln in receipt_lines if ln.category not in rules.no_redeem_categories
    )
    assert result.redeemed_points == asked <= result.cap.cap <= balance
    # The program's share of the lines points may pay for, in whole points.
    assert result.redeemed_points * rules.point_value_kopecks * 10_000 <= (
        eligible * rules.max_redeem_share_bp
    )
    assert result.redeemed_kopecks == asked * rules.point_value_kopecks
    assert sum(r.redeemed_kopecks for r in result.lines) == result.redeemed_kopecks
    for line_in, line_out in zip(receipt_lines, result.lines, strict=True):
        assert 0 <= line_out.redeemed_kopecks <= line_in.amount
        assert line_out.paid_kopecks == line_in.amount - line_out.redeemed_kopecks
        if line_in.category in rules.no_redeem_categories:
            assert line_out.redeemed_kopecks == 0
    assert result.paid_kopecks == sum(r.paid_kopecks for r in result.lines) >= 0
    assert result.total_kopecks == result.paid_kopecks + result.redeemed_kopecks


@given(receipts())
def test_earned_points_are_whole_non_negative_at_the_tier_rate_on_money_paid(receipt):
    receipt_lines, rules, spend, balance, asked = receipt
    result = price(
        receipt_lines,
        rules=rules,
        lifetime_spend_kopecks=spend,
        balance=balance,
        redeem_points=asked,
    )
    tier = rules.tier_for(spend)
    base = sum(
        out.paid_kopecks for out in result.lines if out.category not in rules.no_earn_categories
    )
    assert isinstance(result.earned_points, int) and result.earned_points >= 0
    # The fraction is dropped once per receipt, not per line.
    assert result.earned_points == base * tier.earn_rate_bp // (10_000 * rules.point_value_kopecks)
    assert result.explanation.tier == tier.name
    assert sum(out.earned_points for out in result.lines) == result.earned_points
    for out in result.lines:
        assert out.earned_points >= 0
        if out.category in rules.no_earn_categories:
            assert out.earned_points == 0


@given(receipts())
def test_the_same_receipt_is_priced_the_same_every_time(receipt):
    receipt_lines, rules, spend, balance, asked = receipt
    first = price(
        receipt_lines,
        rules=rules,
        lifetime_spend_kopecks=spend,
        balance=balance,
        redeem_points=asked,
    )
    again = price(
        list(receipt_lines),
        rules=rules,
        lifetime_spend_kopecks=spend,
        balance=balance,
        redeem_points=asked,
    )
    assert first == again


@given(receipts(), st.integers(1, 1_000))
def test_asking_for_more_than_the_cap_is_refused_not_cut(receipt, beyond):
    receipt_lines, rules, spend, balance, _asked = receipt
    cap = price(
        receipt_lines, rules=rules, lifetime_spend_kopecks=spend, balance=balance, redeem_points=0
    ).cap.cap
    with pytest.raises(RedemptionNotAllowed) as refused:
        price(
            receipt_lines,
            rules=rules,
            lifetime_spend_kopecks=spend,
            balance=balance,
            redeem_points=cap + beyond,
        )
    assert refused.value.details["cap"] == cap
