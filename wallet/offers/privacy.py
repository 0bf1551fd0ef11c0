"""A shopper's offers and monthly goals, for their data export."""

from __future__ import annotations

from typing import Any

from wallet.offers.tables import GoalMonth, OfferEnrolment


async def offers_of_account(account_id: int) -> list[dict[str, Any]]:
    """Every offer the account opted in to, with each month's goal and progress."""
    enrolments = (
        await OfferEnrolment.select(
            OfferEnrolment.offer.id.as_alias("offer_id"),
            OfferEnrolment.offer.name.as_alias("offer"),
            OfferEnrolment.opted_in_at,
            OfferEnrolment.status,
        )
        .where(OfferEnrolment.account_id == account_id)
        .order_by(OfferEnrolment.id)
    )
    goals = (
        await GoalMonth.select(
            GoalMonth.offer_id,
            GoalMonth.month,
            GoalMonth.goal_kopecks,
            GoalMonth.spent_kopecks,
            GoalMonth.outcome,
        )
        .where(GoalMonth.account_id == account_id)
        .order_by(GoalMonth.id)
    )
    for enrolment in enrolments:
        enrolment["goals"] = [
            {k: v for k, v in goal.items() if k != "offer_id"}
            for goal in goals
            if goal["offer_id"] == enrolment["offer_id"]
        ]
    return enrolments  # type: ignore[no-any-return]
