from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from wallet import inputs

Bp = Annotated[int, msgspec.Meta(ge=0, le=10_000, description="basis points: 100 = 1%")]
Category = inputs.Label
# What a tier qualifies on (see ``Rules.qualifying_spend``).
TierBasis = Literal["lifetime", "rolling", "calendar"]


class Tier(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A rung of the ladder: its earn rate, and benefits beyond it (a gold card pays a
    larger share of a receipt with points, or gets money off every line)."""

    name: inputs.Label
    min_spend_kopecks: inputs.Points64
    earn_rate_bp: Bp
    # The share of a receipt points may pay for this tier's cards, when above the program's
    # ``max_redeem_share_bp`` (None or lower: the program's share).
    redeem_share_bp: Bp | None = None
    # Money off every line for this tier's cards, after promotions and before the
    # cashier's discount; never on categories points may not pay for or that earn nothing.
    discount_bp: Annotated[int, msgspec.Meta(ge=0, le=5_000)] = 0

    def share_bp(self, program_share_bp: int) -> int:
        """The share of a receipt points may pay for this tier's cards."""
        return max(program_share_bp, self.redeem_share_bp or 0)


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
    tier_basis: TierBasis | None = None
    tier_window_months: Annotated[int, msgspec.Meta(ge=1, le=60)] | None = None


class TierStanding(msgspec.Struct, frozen=True):
    """Where an account stands: its tier, the spend it qualifies on, and what is missing
    for the next tier (``None`` at the top)."""

    tier: Tier
    qualifying_spend_kopecks: int
    # The spend of the period that counts towards the next tier (this window, this year).
    period_spend_kopecks: int
    next_tier: Tier | None
    missing_kopecks: int | None

    def progress_text(self, language: str) -> str | None:
        """ "ещё 3 200 ₽ до 7%" / "spend 3,200 ₽ more for 7%" (whole roubles, rounded up,
        so spending exactly that reaches the tier); ``None`` at the top tier."""
        if self.next_tier is None or self.missing_kopecks is None:
            return None
        roubles = -(-self.missing_kopecks // 100)
        whole, tenths = divmod(self.next_tier.earn_rate_bp, 100)
        if language == "ru":
            rate = f"{whole},{tenths:02d}".rstrip("0").rstrip(",") + "%"
            return f"ещё {roubles:,} ₽ до {rate}".replace(",", " ")
        rate = f"{whole}.{tenths:02d}".rstrip("0").rstrip(".") + "%"
        return f"spend {roubles:,} ₽ more for {rate}"


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
    tier_basis: str = "lifetime"
    tier_window_months: int = 12

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

    def tier_for(self, lifetime_spend_kopecks: int, spend_in_window: int | None = None) -> Tier:
        """The card's tier (see ``tier_bands``) for the spend it qualifies on:
        ``spend_in_window`` when the rules count a window (``standing``), else the lifetime
        spend (the default basis)."""
        spend = lifetime_spend_kopecks if spend_in_window is None else spend_in_window
        for band in self.tier_bands():
            if band.holds(spend):
                return band.tier
        raise AssertionError("tier bands cover every spend")  # pragma: no cover

    def first_counted_month(self, today: date) -> str | None:
        """The earliest month ("YYYY-MM") whose spend the tier reads; ``None`` for lifetime."""
        if self.tier_basis == "rolling":
            index = today.year * 12 + today.month - 1 - (self.tier_window_months - 1)
            return f"{index // 12:04d}-{index % 12 + 1:02d}"
        if self.tier_basis == "calendar":
            return f"{today.year - 1:04d}-01"
        return None

    def standing(
        self, lifetime_spend_kopecks: int, spend_by_month: Mapping[str, int], today: date
    ) -> TierStanding:
        """The tier and the progress to the next one. Rolling: the spend of the last
        ``tier_window_months`` months (this one included), so a tier drops once the months
        that earned it leave the window. Calendar: the higher of this year's and last
        year's spend, so a tier reached holds to the end of the next year; progress counts
        this year. ``spend_by_month`` holds at least the months from
        ``first_counted_month``; lifetime ignores it."""
        first = self.first_counted_month(today)
        if first is None:
            qualifying = period = lifetime_spend_kopecks
        elif self.tier_basis == "rolling":
            qualifying = period = sum(v for m, v in spend_by_month.items() if m >= first)
        else:
            this_year = f"{today.year:04d}-01"
            period = sum(v for m, v in spend_by_month.items() if m >= this_year)
            last = sum(v for m, v in spend_by_month.items() if first <= m < this_year)
            qualifying = max(period, last)
        qualifying, period = max(0, qualifying), max(0, period)
        tier = self.tier_for(lifetime_spend_kopecks, qualifying)
        above = sorted(
            (t for t in self.tiers if t.min_spend_kopecks > tier.min_spend_kopecks),
            key=lambda t: t.min_spend_kopecks,
        )
        following = above[0] if above else None
        return TierStanding(
            tier=tier,
            qualifying_spend_kopecks=qualifying,
            period_spend_kopecks=period,
            next_tier=following,
            missing_kopecks=max(0, following.min_spend_kopecks - period) if following else None,
        )


class RulesHistory(msgspec.Struct, frozen=True):
    current: Rules
    versions: list[Rules]
