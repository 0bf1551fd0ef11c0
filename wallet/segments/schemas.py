"""Segment filters, segments and previews at the API boundary."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from wallet import inputs

Days = Annotated[int, msgspec.Meta(ge=1, le=3660)]
RfmGroup = Literal["champions", "loyal", "new", "at_risk", "hibernating", "lost", "others"]
RFM_GROUPS: tuple[str, ...] = (
    "champions",
    "loyal",
    "new",
    "at_risk",
    "hibernating",
    "lost",
    "others",
)
# The groups as the console and the reports name them for people.
RFM_GROUP_NAMES = {
    "champions": "Чемпионы",
    "loyal": "Лояльные",
    "new": "Новички",
    "at_risk": "В зоне риска",
    "hibernating": "Засыпающие",
    "lost": "Потерянные",
    "others": "Остальные",
}


class SegmentFilter(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Every condition given must hold (AND); an omitted one does not filter. ``any_of``
    adds OR: at least one of its groups must hold too (each group a filter of its own,
    its conditions ANDed; a group holds no groups).

    Windows count back from the moment the segment is evaluated. Money is kopecks."""

    tiers: list[inputs.Label] | None = None
    balance_min: inputs.Points64 | None = None
    balance_max: inputs.Points64 | None = None
    # Points that burn within ``burning_within_days`` (default 30) add up to at least this.
    burning_points_min: Annotated[int, msgspec.Meta(ge=1, le=inputs.INT64_MAX)] | None = None
    burning_within_days: Days = 30
    # Last purchase at most / at least this many days ago; ``never_purchased`` for none.
    last_purchase_within_days: Days | None = None
    last_purchase_before_days: Days | None = None
    never_purchased: bool | None = None
    # Purchase count and spend over the last ``window_days`` (default 90).
    window_days: Days = 90
    purchases_min: inputs.Count32 | None = None
    purchases_max: inputs.Count32 | None = None
    spend_min_kopecks: inputs.Points64 | None = None
    spend_max_kopecks: inputs.Points64 | None = None
    rfm_groups: list[RfmGroup] | None = None
    birthday_month: Annotated[int, msgspec.Meta(ge=1, le=12)] | None = None
    # Store codes.
    join_stores: list[inputs.ShortLine] | None = None
    last_stores: list[inputs.ShortLine] | None = None
    marketing_email: bool | None = None
    marketing_push: bool | None = None
    marketing_sms: bool | None = None
    joined_after: datetime | None = None
    joined_before: datetime | None = None
    # Which wallet holds a pass of the account: "apple" (a device registered it),
    # "google" (saved to Google Wallet) or "none" (neither); any of those listed.
    wallets: list[Literal["apple", "google", "none"]] | None = None
    # Opted in to a cashback offer (and not left it).
    cashback_opted_in: bool | None = None
    # The cashback goal of ``goal_month`` ("2026-01", default: the current month in the
    # program's zone): "in_progress" (open, below the goal), "reached" (settled reached, or
    # open and already at the goal), "missed" (settled missed); any of those listed.
    goal_statuses: list[Literal["in_progress", "reached", "missed"]] | None = None
    goal_month: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")] | None = None
    # Day of the month of the birthday (with ``birthday_month``: one calendar day).
    birthday_day: Annotated[int, msgspec.Meta(ge=1, le=31)] | None = None
    # OR groups: (tier Золотой AND spend >= 10,000 ₽) OR (RFM champions).
    any_of: Annotated[list[SegmentFilter], msgspec.Meta(max_length=10)] | None = None


class SegmentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: inputs.Name
    filter: SegmentFilter = msgspec.field(default_factory=SegmentFilter)


class SegmentOut(msgspec.Struct, frozen=True):
    id: int
    name: str
    filter: SegmentFilter
    created_by: str
    created_at: datetime
    updated_at: datetime


class SampleShopper(msgspec.Struct, frozen=True):
    account_id: int
    member_id: int
    name: str
    email: str | None
    balance: int
    birthday: date | None
    rfm_group: str | None
    # the account's first card, and when it last bought (None: never)
    card_number: str | None = None
    last_purchase_at: datetime | None = None


class PreviewOut(msgspec.Struct, frozen=True):
    count: int
    sample: list[SampleShopper]
    # The filters this deployment cannot apply yet (e.g. a domain not installed).
    ignored: list[str] = []


class RfmGroupCount(msgspec.Struct, frozen=True):
    group: str
    accounts: int


class RfmOut(msgspec.Struct, frozen=True):
    scored: int
    groups: list[RfmGroupCount]
