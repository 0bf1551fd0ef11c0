"""A promotion tried on the last N days of real receipts under today's program rules
(tiers, their earn rates, what a point is worth, what never earns): the marketer's API
and the console ask the same question."""

from __future__ import annotations

from datetime import datetime

from wallet.promotions import service
from wallet.promotions.schemas import SimulationOut
from wallet.rules import service as rules_service


async def simulate_now(promotion_id: int, *, days: int, now: datetime) -> SimulationOut:
    rules = await rules_service.rules_at(now)

    def tier_of(spend: int) -> tuple[str, int]:
        tier = rules.tier_for(spend)
        return tier.name, tier.earn_rate_bp

    return await service.simulate(
        promotion_id,
        days=days,
        now=now,
        tier_of=tier_of,
        point_value_kopecks=rules.point_value_kopecks,
        excluded=frozenset(rules.no_earn_categories) | frozenset(rules.no_redeem_categories),
    )
