"""Properties of the one pricing function with promotions: no line goes below 0 or pays
more than its price, and no promotion gives past its budget."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.promotions import engine
from wallet.promotions import schemas as s
from wallet.promotions.schemas import Definition, Lines
from wallet.receipts.pricing import price
from wallet.receipts.schemas import LineIn
from wallet.rules.schemas import Rules, Tier

RULES = Rules(
    id=1,
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    program_name="p",
    earn_rate_bp=500,
    tiers=[Tier(name="base", min_spend_kopecks=0, earn_rate_bp=500)],
    no_earn_categories=["alcohol"],
    no_redeem_categories=["alcohol"],
    max_redeem_share_bp=9_900,
    validity_months=6,
    pending_days=0,
    point_value_kopecks=100,
)
CATS = ["dairy", "fruit", "alcohol"]
SKUS = ["A", "B", "C"]
effects = st.one_of(
    st.builds(s.Multiplier, times=st.integers(1, 100)),
    st.builds(s.Rate, rate_bp=st.integers(0, 10_000)),
    st.builds(s.ReceiptBonus, points=st.integers(0, 10_000)),
    st.builds(s.PerAmount, points=st.integers(0, 100), per_kopecks=st.integers(1, 100_000)),
    st.builds(s.SkuBonus, sku=st.sampled_from(SKUS), points=st.integers(0, 1000)),
    st.builds(s.PercentOff, percent_bp=st.integers(0, 10_000)),
    st.builds(s.AmountOff, kopecks=st.integers(0, 100_000)),
    st.builds(s.NForM, take=st.integers(2, 5), pay=st.just(1)),
    st.builds(s.SetDeal, skus=st.just(["A", "B"]), price_kopecks=st.integers(0, 50_000)),
    st.builds(s.CheapestFree, min_units=st.integers(2, 4)),
    st.builds(
        s.ThresholdGift, threshold_kopecks=st.integers(0, 100_000), points=st.integers(0, 500)
    ),
)
promotions = st.builds(
    Definition,
    conditions=st.lists(
        st.builds(Lines, categories=st.lists(st.sampled_from(CATS), max_size=2)), max_size=1
    ).map(lambda c: [x for x in c if x.categories]),
    effects=st.lists(effects, min_size=1, max_size=3),
    priority=st.integers(0, 10),
    stacking=st.sampled_from(["exclusive", "stackable", "best"]),
    group=st.sampled_from(["", "g"]),
    max_receipt_discount_share_bp=st.integers(0, 10_000),
    max_line_discount_share_bp=st.integers(0, 10_000),
    max_points_share_bp=st.none() | st.integers(0, 10_000),
)
lines = st.lists(
    st.builds(
        LineIn,
        sku=st.sampled_from(SKUS),
        category=st.sampled_from(CATS),
        quantity=st.sampled_from([1, 2, 3, 0.5, 7]),
        amount=st.integers(0, 1_000_000),
    ),
    min_size=1,
    max_size=12,
)
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
SHOPPER = engine.Shopper(store_code="S", at=NOW, local=NOW, tier="base", tier_rate_bp=500)


@settings(max_examples=300, deadline=None)
@given(
    lines,
    st.lists(promotions, max_size=6),
    st.lists(
        st.tuples(st.none() | st.integers(0, 2_000), st.none() | st.integers(0, 200_000)),
        min_size=6,
        max_size=6,
    ),
    st.integers(0, 100_000),
)
def test_no_line_goes_negative_or_over_its_price_and_budgets_hold(items, defs, budgets, balance):
    catalogue = engine.Catalogue(engine.Compiled(i + 1, f"p{i}", d) for i, d in enumerate(defs))
    left = {i + 1: engine.Left(points=p, kopecks=k) for i, (p, k) in enumerate(budgets)}
    pricing = price(
        items,
        rules=RULES,
        lifetime_spend_kopecks=0,
        balance=balance,
        redeem_points=0,
        promotions=catalogue,
        shopper=SHOPPER,
        left=left,
    )
    for line, result in zip(items, pricing.lines, strict=True):
        assert 0 <= result.discount_kopecks <= line.amount
        assert 0 <= result.paid_kopecks <= line.amount
        if line.category == "alcohol":
            assert result.discount_kopecks == 0 and result.promotion_points == []
    for applied in pricing.promotions:
        budget = left[applied.promotion_id]
        assert budget.points is None or applied.points <= budget.points
        assert (
            budget.kopecks is None
            or applied.discount_kopecks + applied.points * 100 <= budget.kopecks
        )
    assert pricing.paid_kopecks == sum(r.paid_kopecks for r in pricing.lines)
    # Redeeming the most allowed keeps every line within its price too.
    most = price(
        items,
        rules=RULES,
        lifetime_spend_kopecks=0,
        balance=balance,
        redeem_points=pricing.cap.cap,
        promotions=catalogue,
        shopper=SHOPPER,
        left=left,
    )
    assert all(0 <= r.paid_kopecks <= r.amount for r in most.lines)
