"""Requests and replies of the cashback offers API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from wallet import inputs

Bp = Annotated[int, msgspec.Meta(ge=1, le=10_000, description="basis points: 200 = 2%")]
Kopecks = Annotated[int, msgspec.Meta(ge=0, le=100_000_000_00, description="integer kopecks")]
Category = inputs.Label
# Saved segments (``/api/v1/admin/segments``) whose shoppers may opt in.
SegmentIds = Annotated[
    list[inputs.Id],
    msgspec.Meta(
        max_length=20,
        description="saved segments (groups) whose shoppers may opt in: a shopper in any "
        "of them at the time of opting in; empty = no group restriction",
    ),
]


class GoalPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How a shopper's monthly goal is made from their own spend: the median month of the
    last ``lookback_months`` full months (all cards of the account), plus
    ``uplift_percent``, rounded up to ``rounding_step_kopecks``, never below
    ``min_goal_kopecks``; a shopper with no spend at all gets ``no_history_goal_kopecks``."""

    lookback_months: Annotated[int, msgspec.Meta(ge=1, le=24)] = 3
    uplift_percent: Annotated[int, msgspec.Meta(ge=0, le=500)] = 10
    rounding_step_kopecks: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 10_000
    min_goal_kopecks: Kopecks = 100_000
    no_history_goal_kopecks: Kopecks = 500_000


class OfferIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: inputs.Name
    starts_at: datetime
    rate_bp: Bp = 200
    cap_points: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 1_000
    validity_months: Annotated[int, msgspec.Meta(ge=1, le=120)] = 6
    categories: list[Category] = []
    goal: GoalPolicy = GoalPolicy()
    renews_monthly: bool = True
    counts_whole_month: bool = True
    ends_at: datetime | None = None
    eligible_tiers: list[inputs.Label] = []
    eligible_segment_ids: SegmentIds = []
    description: inputs.Description = ""


class OfferChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fields left out keep their value. A change applies to goals made from now on; a goal
    already shown to a shopper stays as it was for that month."""

    name: inputs.Name | None = None
    description: inputs.Description | None = None
    rate_bp: Bp | None = None
    cap_points: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None
    validity_months: Annotated[int, msgspec.Meta(ge=1, le=120)] | None = None
    categories: list[Category] | None = None
    goal: GoalPolicy | None = None
    renews_monthly: bool | None = None
    counts_whole_month: bool | None = None
    ends_at: datetime | None = None
    eligible_tiers: list[inputs.Label] | None = None
    eligible_segment_ids: SegmentIds | None = None


class OfferOut(msgspec.Struct, frozen=True):
    id: int
    name: str
    description: str
    rate_bp: int
    cap_points: int
    validity_months: int
    categories: list[str]
    goal: GoalPolicy
    renews_monthly: bool
    counts_whole_month: bool
    starts_at: datetime
    ends_at: datetime | None
    eligible_tiers: list[str]
    eligible_segment_ids: list[int]
    status: str
    # Other running offers the same shoppers could hold at the same time (a shopper may
    # hold only one of them in a month; opting in to a second is refused).
    overlaps_with: list[int] = []


class MonthSpend(msgspec.Struct, frozen=True):
    month: str
    spent_kopecks: int


class CardSpend(msgspec.Struct, frozen=True):
    card_number: str
    role: str
    spent_kopecks: int


class GoalExplanation(msgspec.Struct, frozen=True):
    """Why the goal is what it is, in numbers support can read out."""

    method: str
    months: list[MonthSpend]
    by_card: list[CardSpend]
    typical_kopecks: int
    uplift_percent: int
    rounding_step_kopecks: int
    min_goal_kopecks: int
    text: str


class MyOfferStatus(msgspec.Struct, frozen=True):
    offer: OfferOut
    eligible: bool
    why_not: str | None
    opted_in: bool
    month: str | None
    goal_kopecks: int | None


class MyOffers(msgspec.Struct, frozen=True):
    offers: list[MyOfferStatus]


class Progress(msgspec.Struct, frozen=True):
    offer_id: int
    month: str
    goal_kopecks: int
    spent_kopecks: int
    remaining_kopecks: int
    percent: int
    reached: bool
    days_left: int
    month_ends_at: datetime
    # What the month would pay if it ended now, and whether the monthly cap cut it.
    reward_if_ended_now: int
    cap_points: int
    cap_applies: bool
    rate_bp: int
    counts_from: datetime
    explanation: GoalExplanation
    status: str
    outcome: str | None


class SettlementReport(msgspec.Struct, frozen=True):
    month: str
    offers: int
    settled: int
    reached: int
    missed: int
    points: int
