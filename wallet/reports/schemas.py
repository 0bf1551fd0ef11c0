"""The reports as the API returns them (English names; exports carry Russian headers)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class LiabilityFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Points owed at a moment. ``outstanding_points`` = available + pending (what shoppers
    may still spend); ``value_kopecks`` is that at the rules' point value then. ``debt`` is
    owed the other way (returns of points already spent) and is not netted."""

    accounts: int
    holding_accounts: int
    balance_points: int
    pending_points: int
    debt_points: int
    outstanding_points: int
    value_kopecks: int
    debt_value_kopecks: int


class TierLiability(LiabilityFigures, frozen=True, kw_only=True):
    tier: str


class StoreLiability(LiabilityFigures, frozen=True, kw_only=True):
    # None: shoppers who joined without a store (online, a plastic card).
    store_id: int | None
    store_code: str | None
    store_name: str | None


class ExpiryMonth(msgspec.Struct, frozen=True):
    # "YYYY-MM" in the program's zone; the first is the rest of the as-of month.
    month: str
    points: int
    value_kopecks: int


class Liability(msgspec.Struct, frozen=True):
    as_of: datetime
    point_value_kopecks: int
    total: LiabilityFigures
    by_tier: list[TierLiability]
    by_join_store: list[StoreLiability]
    expiring: list[ExpiryMonth]
    # Held at the as-of moment and expiring after the twelve months listed.
    expiring_later_points: int


class MovementFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Signed points by what moved them (credits positive, debits negative). ``promotion``
    is points a promotion gave on a receipt, ``bonus`` the event bonuses (welcome,
    birthday, referral), ``returned`` points taken back by returns (``debt`` included),
    ``refunded`` points paid with and given back by a return, ``other`` the ledger's
    internal moves (debt repaid, cards merged) that add up to nothing across accounts."""

    earned: int = 0
    promotion: int = 0
    cashback: int = 0
    bonus: int = 0
    redeemed: int = 0
    expired: int = 0
    adjusted: int = 0
    returned: int = 0
    refunded: int = 0
    other: int = 0
    net: int = 0


class DayMovements(MovementFigures, frozen=True, kw_only=True):
    day: str


class StoreMovements(MovementFigures, frozen=True, kw_only=True):
    # None: movements with no receipt (cashback, bonuses without one, adjustments, expiry).
    store_id: int | None
    store_code: str | None
    store_name: str | None


class PromotionMovements(msgspec.Struct, frozen=True):
    promotion_id: int
    name: str
    given_points: int
    taken_back_points: int
    net_points: int


class OfferMovements(msgspec.Struct, frozen=True):
    offer_id: int
    name: str
    cashback_points: int


class Movements(msgspec.Struct, frozen=True):
    start: datetime
    end: datetime
    store_code: str | None
    total: MovementFigures
    by_day: list[DayMovements]
    by_store: list[StoreMovements]
    by_promotion: list[PromotionMovements]
    by_offer: list[OfferMovements]


class ReceiptMovements(MovementFigures, frozen=True, kw_only=True):
    receipt_id: int
    external_id: str
    store_code: str
    occurred_at: datetime
    account_id: int
    total_kopecks: int
    paid_kopecks: int


class ReceiptMovementsPage(msgspec.Struct, frozen=True):
    items: list[ReceiptMovements]
    # Pass as ``after`` for the next page; None on the last one.
    next_after: int | None


class ReceiptLineOut(msgspec.Struct, frozen=True):
    line_no: int
    sku: str
    category: str
    quantity: float
    amount_kopecks: int
    discount_kopecks: int
    redeemed_kopecks: int
    earned_points: int
    returned_kopecks: int
    returned_earned_points: int


class ReceiptEntry(msgspec.Struct, frozen=True):
    id: int
    created_at: datetime
    kind: str
    category: str
    points: int
    promotion_id: int | None
    lot_id: int | None
    reason: str


class ReceiptDetail(msgspec.Struct, frozen=True):
    receipt_id: int
    external_id: str
    store_code: str
    store_name: str
    occurred_at: datetime
    account_id: int
    total_kopecks: int
    paid_kopecks: int
    redeemed_points: int
    earned_points: int
    refunded_points: int
    lines: list[ReceiptLineOut]
    movements: list[ReceiptEntry]


# ---- campaign outcome against its control group -------------------------------------------


class GroupFigures(msgspec.Struct, frozen=True, kw_only=True):
    """One side of the comparison over the window: shoppers the campaign reached (or would
    have), how many bought, and what they bought. Revenue is the receipts' totals before
    returns; points are what those receipts earned."""

    shoppers: int
    buyers: int
    receipts: int
    revenue_kopecks: int
    points: int


class MetricComparison(msgspec.Struct, frozen=True, kw_only=True):
    """Recipients minus held-out, with the 95% confidence interval of the difference.

    ``metric``: buyers_share (0..1), receipts_per_shopper, revenue_per_shopper_kopecks,
    points_per_shopper. ``method``: two_proportion_wald (unpooled Wald interval of a
    difference of shares) or welch_t (Welch's t interval of a difference of means).
    ``enough`` false: the groups are too small for the interval to mean anything (it is
    still given, but ``ci_low``/``ci_high`` should not be read). ``relative``: the
    difference as a share of the held-out figure (null when that is 0)."""

    metric: str
    method: str
    recipients: float
    held_out: float
    difference: float
    relative: float | None
    ci_low: float
    ci_high: float
    enough: bool
    significant: bool


class CampaignOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a campaign's recipients bought over ``window_days`` after it started, against
    its held-out control group over the same days.

    ``verdict``: ``uplift`` / ``downlift`` (the buyers' share differs, the interval
    excludes 0), ``no_difference`` (the interval includes 0), ``too_small`` (too few
    shoppers or buyers to tell), ``no_control_group`` (nobody was held out). ``note`` says
    the same in a sentence. ``complete`` is false while the window is still running."""

    campaign_id: int
    name: str
    status: str
    holdout_bp: int
    started_at: datetime
    window_days: int
    window_start: datetime
    window_end: datetime
    complete: bool
    recipients: GroupFigures
    held_out: GroupFigures
    metrics: list[MetricComparison]
    verdict: str
    note: str


# ---- cashback offer outcome, month by month -----------------------------------------------


class OfferMonth(msgspec.Struct, frozen=True, kw_only=True):
    """One month of a cashback offer. ``opted_in``: shoppers with a goal that month;
    ``reached``/``missed`` once settled (``open`` until then); ``points_paid``: cashback
    credited for it. Spend is money paid (``account_spend_month``, net of returns) per
    shopper: this month, and the average month of the ``lookback_months`` before it.
    ``others`` are shoppers who bought in those look-back months and had no goal this month
    (the eligible who did not opt in; the offer's tier and segment conditions are not
    re-applied). ``uplift_per_shopper_kopecks``: the opted-in's change from their own
    look-back minus the others' change (a difference in differences; null without others)."""

    month: str
    opted_in: int
    reached: int
    missed: int
    open: int
    points_paid: int
    spend_per_shopper_kopecks: int
    lookback_per_shopper_kopecks: int
    others: int
    others_spend_per_shopper_kopecks: int
    others_lookback_per_shopper_kopecks: int
    uplift_per_shopper_kopecks: int | None


class OfferOutcome(msgspec.Struct, frozen=True, kw_only=True):
    offer_id: int
    name: str
    lookback_months: int
    months: list[OfferMonth]


# ---- program health ------------------------------------------------------------------------


class Cohort(msgspec.Struct, frozen=True, kw_only=True):
    """Shoppers who joined in ``month`` and, for each month from the one they joined in
    (index 0) to the period's end, how many bought then (``buyers``) and their share."""

    month: str
    members: int
    buyers: list[int]
    shares: list[float]


class ActivityMonth(msgspec.Struct, frozen=True, kw_only=True):
    """Receipts posted in ``month``: shoppers who bought, receipts, their total and average."""

    month: str
    active_shoppers: int
    receipts: int
    revenue_kopecks: int
    average_receipt_kopecks: int


class TierCount(msgspec.Struct, frozen=True, kw_only=True):
    """Accounts in a tier at a month end (``min_spend_kopecks``: its threshold then)."""

    tier: str
    min_spend_kopecks: int
    accounts: int


class GroupCount(msgspec.Struct, frozen=True, kw_only=True):
    """Shoppers' accounts in an RFM group (``segments`` names: champions, loyal, ...)."""

    group: str
    accounts: int


class Move(msgspec.Struct, frozen=True, kw_only=True):
    """Accounts that were in ``from_`` at the month end before and are in ``to`` at this
    one. ``from`` null: the account did not exist then (or, for RFM groups, had no
    shopper); ``to`` null (RFM groups only): the account has no shopper."""

    from_: str | None = msgspec.field(name="from")
    to: str | None
    accounts: int


class TierMoves(msgspec.Struct, frozen=True, kw_only=True):
    """Tier moves between the month end before and this one, of the accounts that existed
    at both: ``up`` to a tier with a higher threshold, ``down``, ``same``; ``joined``: new
    accounts since (in ``matrix`` with ``from`` null). ``matrix`` has every non-empty
    from→to pair."""

    up: int
    down: int
    same: int
    joined: int
    matrix: list[Move]


class StandingMonth(msgspec.Struct, frozen=True, kw_only=True):
    """Tiers and RFM groups at the end of ``month`` (for the current month: now, computed
    live, ``live`` true) and the moves since the month end before.

    ``recorded`` false: the month end was not recorded (before the month-end job ran, or
    before there was one) and the figures are empty. ``tier_moves`` and ``rfm_moves`` are
    null when the month end before is not recorded either."""

    month: str
    as_of: datetime | None
    live: bool
    recorded: bool
    accounts: int
    tiers: list[TierCount]
    rfm_groups: list[GroupCount]
    tier_moves: TierMoves | None
    rfm_moves: list[Move] | None


class ProgramHealth(msgspec.Struct, frozen=True, kw_only=True):
    """Retention cohorts and activity per month of the program's zone over [start, end],
    and tiers and RFM groups at each month end with the moves between them.

    ``card_share_note``: why there is no share of receipts with a card (the till posts only
    receipts with a loyalty card, so the chain's other receipts are not known here).
    ``standings_note``: where the month-end tiers and groups come from."""

    start: str
    end: str
    cohorts: list[Cohort]
    months: list[ActivityMonth]
    card_share_note: str
    standings: list[StandingMonth] = []
    standings_note: str = ""
