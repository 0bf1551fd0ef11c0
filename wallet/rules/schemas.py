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

    def tier_for(self, lifetime_spend_kopecks: int) -> Tier:
        """The highest tier whose threshold the spend has reached; the base rate otherwise."""
        chosen = Tier(name="base", min_spend_kopecks=0, earn_rate_bp=self.earn_rate_bp)
        for tier in sorted(self.tiers, key=lambda t: t.min_spend_kopecks):
            if lifetime_spend_kopecks >= tier.min_spend_kopecks:
                chosen = tier
        return chosen


class RulesHistory(msgspec.Struct, frozen=True):
    current: Rules
    versions: list[Rules]
