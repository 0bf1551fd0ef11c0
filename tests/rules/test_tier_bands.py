"""The tier ladder as bands: the same tier a card always had, bands that never overlap."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from wallet.rules.schemas import Rules, Tier

tiers = st.lists(
    st.builds(
        Tier,
        name=st.sampled_from(["base", "Серебро", "Золото"]),
        min_spend_kopecks=st.integers(0, 50),
        earn_rate_bp=st.integers(0, 10_000),
    ),
    max_size=5,
)


def rules_with(ladder: list[Tier], earn_rate_bp: int = 500) -> Rules:
    return Rules(
        id=1,
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        program_name="Программа",
        earn_rate_bp=earn_rate_bp,
        tiers=ladder,
        no_earn_categories=[],
        no_redeem_categories=[],
        max_redeem_share_bp=9_900,
        validity_months=6,
        pending_days=0,
        point_value_kopecks=100,
    )


@given(ladder=tiers, spend=st.integers(0, 60), base_rate=st.integers(0, 10_000))
def test_a_card_is_in_the_highest_tier_its_spend_reached(ladder, spend, base_rate):
    rules = rules_with(ladder, base_rate)
    reached = [
        t for t in sorted(ladder, key=lambda t: t.min_spend_kopecks) if spend >= t.min_spend_kopecks
    ]
    # Of tiers sharing a threshold the one listed last wins; below all of them, the base rate.
    expected = reached[-1] if reached else Tier("base", 0, base_rate)
    assert rules.tier_for(spend) == expected


@given(ladder=tiers, spend=st.integers(-5, 60))
def test_every_spend_falls_in_exactly_one_band(ladder, spend):
    bands = rules_with(ladder).tier_bands()
    assert sum(band.holds(spend) for band in bands) == 1
