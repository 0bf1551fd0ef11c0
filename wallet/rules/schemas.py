from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from wallet import inputs

Bp = Annotated[int, msgspec.Meta(ge=0, le=10_000, description="basis points: 100 = 1%")]
Category = inputs.Label


class Tier(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: inputs.Label
    min_spend_kopecks: inputs.Points64
    earn_rate_bp: Bp


# The tier of a card whose spend is below every configured threshold (or of every card when
# no tiers are configured): it earns the program's base rate.
BASE_TIER = "base"


class TierBand(msgspec.Struct, frozen=True):
    """The lifetime spend that puts a card in ``tier``: ``low <= spend < high``, where a
    missing ``low`` or ``high`` is unbounded on that side."""

    tier: Tier
    low: int | None
    high: int | None

    def holds(self, lifetime_spend_kopecks: int) -> bool:
        return (self.low is None or lifetime_spend_kopecks >= self.low) and (
            self.high is None or lifetime_spend_kopecks < self.high
        )


class RulesIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A new version of the program rules. Omitted fields keep the current value."""

    effective_from: datetime | None = None
    program_name: inputs.Name | None = None
    earn_rate_bp: Bp | None = None
    tiers: list[Tier] | None = None
    no_earn_categories: list[Category] | None = None
    no_redeem_categories: list[Category] | None = None
    max_redeem_share_bp: Bp | None = None
    validity_months: Annotated[int, msgspec.Meta(ge=1, le=120)] | None = None
    pending_days: Annotated[int, msgspec.Meta(ge=0, le=365)] | None = None
    point_value_kopecks: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None


class Rules(msgspec.Struct, frozen=True):
    """The program rules in force from ``effective_from``."""

    id: int
    effective_from: datetime
    program_name: str
    earn_rate_bp: int
    tiers: list[Tier]
    no_earn_categories: list[str]
    no_redeem_categories: list[str]
    max_redeem_share_bp: int
    validity_months: int
    pending_days: int
    point_value_kopecks: int

    def tier_bands(self) -> list[TierBand]:
        """The tier ladder as disjoint spend ranges covering every spend, lowest first.

        The one tier computation: ``tier_for`` picks a band from these in Python and the
        segments' SQL filter is written from them, so a card's tier on its pass and the
        audience of a "gold cards" campaign cannot disagree. A card is in the highest tier
        whose threshold its spend has reached (of tiers with the same threshold, the one
        listed last); below every threshold it is in the base tier at the base rate. The
        lowest band has no lower bound, so a (never expected) negative spend still has a tier.
        """
        ladder = sorted(self.tiers, key=lambda t: t.min_spend_kopecks)
        below: list[TierBand] = []
        if not ladder or ladder[0].min_spend_kopecks > 0:
            base = Tier(name=BASE_TIER, min_spend_kopecks=0, earn_rate_bp=self.earn_rate_bp)
            first = ladder[0].min_spend_kopecks if ladder else None
            below.append(TierBand(tier=base, low=None, high=first))
        bands = below + [
            TierBand(
                tier=tier,
                low=tier.min_spend_kopecks if below or index > 0 else None,
                high=ladder[index + 1].min_spend_kopecks if index + 1 < len(ladder) else None,
            )
            for index, tier in enumerate(ladder)
        ]
        # A tier shadowed by a later one with the same threshold holds no spend at all.
        return [b for b in bands if b.low is None or b.high is None or b.low < b.high]

    def tier_for(self, lifetime_spend_kopecks: int) -> Tier:
        """The card's tier for its lifetime spend (see ``tier_bands``)."""
        for band in self.tier_bands():
            if band.holds(lifetime_spend_kopecks):
                return band.tier
        raise AssertionError("tier bands cover every spend")  # pragma: no cover


class RulesHistory(msgspec.Struct, frozen=True):
    current: Rules
    versions: list[Rules]
