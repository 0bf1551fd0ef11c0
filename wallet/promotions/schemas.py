"""A promotion as data: conditions (when, where, who, what) and effects (money off lines,
points on lines), with how it stacks with others and what it may cost.

Money is integer kopecks, points are integers, rates are basis points (100 = 1%).
Conditions and effects are lists of tagged objects (``{"kind": "stores", ...}``) so that a
new kind (``coupon`` is reserved for promo codes) plugs in without changing the others.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from wallet import inputs

Bp = Annotated[int, msgspec.Meta(ge=0, le=10_000, description="basis points: 100 = 1%")]
Kopecks = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000, description="integer kopecks")]
Points = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
Labels = Annotated[list[inputs.Label], msgspec.Meta(max_length=1000)]
Stacking = Literal["exclusive", "stackable", "best"]
Status = Literal["draft", "active", "paused", "ended"]
Period = Literal["day", "week", "month", "promotion"]


class _Kind(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind"):
    pass


# ---- conditions: all must hold --------------------------------------------------------


class Window(_Kind, frozen=True, tag="window"):
    """From ``starts_at`` (inclusive) to ``ends_at`` (exclusive), by the receipt's time."""

    starts_at: datetime
    ends_at: datetime


class Schedule(_Kind, frozen=True, tag="schedule"):
    """Weekdays (1 = Monday .. 7 = Sunday) and local hours [from, to) in the program's zone."""

    weekdays: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=7)]], msgspec.Meta(max_length=7)]
    hour_from: Annotated[int, msgspec.Meta(ge=0, le=23)] = 0
    hour_to: Annotated[int, msgspec.Meta(ge=1, le=24)] = 24


class Stores(_Kind, frozen=True, tag="stores"):
    codes: Labels


class Tiers(_Kind, frozen=True, tag="tiers"):
    names: Labels


class Segments(_Kind, frozen=True, tag="segments"):
    """The shopper is in at least one of these saved segments (resolved before pricing)."""

    ids: Annotated[list[inputs.Id], msgspec.Meta(max_length=100)]


class Lines(_Kind, frozen=True, tag="lines"):
    """Which lines the effects touch: any of these categories, SKUs or brands."""

    categories: Labels = []
    skus: Labels = []
    brands: Labels = []


class MinTotal(_Kind, frozen=True, tag="min_total"):
    kopecks: Kopecks


class FirstPurchase(_Kind, frozen=True, tag="first_purchase"):
    pass


class Coupon(_Kind, frozen=True, tag="coupon"):
    """The receipt must carry a valid code of this promotion (``coupons`` on the quote or
    the receipt; codes are made with ``POST /api/v1/admin/promotions/{id}/coupons``)."""


Condition = (
    Window | Schedule | Stores | Tiers | Segments | Lines | MinTotal | FirstPurchase | Coupon
)


# ---- effects ---------------------------------------------------------------------------


class Multiplier(_Kind, frozen=True, tag="multiplier"):
    """The lines earn ``times`` the tier's points (×2: the tier's points once more)."""

    times: int


class Rate(_Kind, frozen=True, tag="rate"):
    """The lines earn at ``rate_bp`` instead of the tier's rate (never less)."""

    rate_bp: Bp


class ReceiptBonus(_Kind, frozen=True, tag="receipt_bonus"):
    points: Points


class PerAmount(_Kind, frozen=True, tag="per_amount"):
    """``points`` for every full ``per_kopecks`` paid on the lines (10 per full 100 ₽)."""

    points: Points
    per_kopecks: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]


class SkuBonus(_Kind, frozen=True, tag="sku_bonus"):
    """``points`` for each unit of ``sku``."""

    sku: inputs.Label
    points: Points


class PercentOff(_Kind, frozen=True, tag="percent_off"):
    percent_bp: Bp


class AmountOff(_Kind, frozen=True, tag="amount_off"):
    """``kopecks`` off each unit of the lines (never below 0)."""

    kopecks: Kopecks


class NForM(_Kind, frozen=True, tag="n_for_m"):
    """Take ``take`` units, pay for ``pay`` (1+1: take 2 pay 1; 1+1=3: take 3 pay 2); the
    cheapest units of each group are the free ones."""

    take: Annotated[int, msgspec.Meta(ge=2, le=100)]
    pay: Annotated[int, msgspec.Meta(ge=1, le=99)]


class SetDeal(_Kind, frozen=True, tag="set"):
    """One unit of each SKU together: the set costs ``price_kopecks`` or gets
    ``percent_bp`` off."""

    skus: Annotated[list[inputs.Label], msgspec.Meta(max_length=20)]
    price_kopecks: Kopecks | None = None
    percent_bp: Bp | None = None


class CheapestFree(_Kind, frozen=True, tag="cheapest_free"):
    """With at least ``min_units`` units on the lines, the cheapest unit is free."""

    min_units: Annotated[int, msgspec.Meta(ge=2, le=100)] = 3


class ThresholdGift(_Kind, frozen=True, tag="threshold_gift"):
    """``points`` once the lines come to ``threshold_kopecks`` after discounts."""

    threshold_kopecks: Kopecks
    points: Points


Effect = (
    Multiplier
    | Rate
    | ReceiptBonus
    | PerAmount
    | SkuBonus
    | PercentOff
    | AmountOff
    | NForM
    | SetDeal
    | CheapestFree
    | ThresholdGift
)
DISCOUNT_KINDS = frozenset({"percent_off", "amount_off", "n_for_m", "set", "cheapest_free"})


class Budget(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the promotion may give in all (``points``, and ``kopecks`` counting discounts
    plus points at their value) and to one shopper per ``period``."""

    points: Points | None = None
    kopecks: Kopecks | None = None
    shopper_points: Points | None = None
    shopper_kopecks: Kopecks | None = None
    period: Period = "promotion"


class Definition(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What is stored and evaluated: everything but the name and the status."""

    conditions: Annotated[list[Condition], msgspec.Meta(max_length=20)] = []
    effects: Annotated[list[Effect], msgspec.Meta(min_length=1, max_length=10)] = []
    priority: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 100
    stacking: Stacking = "stackable"
    group: inputs.OptionalName = ""
    max_receipt_discount_share_bp: Bp = 10_000
    max_line_discount_share_bp: Bp = 10_000
    max_points_share_bp: Bp | None = None
    budget: Budget = Budget()


class PromotionIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: inputs.Name
    # Required: a default list would skip the length check, and a promotion that gives
    # nothing is a mistake to refuse at the door.
    effects: Annotated[list[Effect], msgspec.Meta(min_length=1, max_length=10)]
    conditions: Annotated[list[Condition], msgspec.Meta(max_length=20)] = []
    priority: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 100
    stacking: Stacking = "stackable"
    group: inputs.OptionalName = ""
    max_receipt_discount_share_bp: Bp = 10_000
    max_line_discount_share_bp: Bp = 10_000
    max_points_share_bp: Bp | None = None
    budget: Budget = Budget()

    def definition(self) -> Definition:
        fields = msgspec.structs.asdict(self)
        fields.pop("name")
        return Definition(**fields)


class Counters(msgspec.Struct, frozen=True):
    uses: int
    points_given: int
    discount_kopecks: int
    budget_points_left: int | None
    budget_kopecks_left: int | None


class PromotionOut(msgspec.Struct, frozen=True):
    id: int
    name: str
    status: Status
    definition: Definition
    counters: Counters
    created_by: str
    created_at: datetime
    warnings: list[str] = []


class SimulateIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    days: Annotated[int, msgspec.Meta(ge=1, le=366)] = 30


class SimulationOut(msgspec.Struct, frozen=True):
    days: int
    receipts_seen: int
    receipts_matched: int
    points: int
    discount_kopecks: int
    cost_kopecks: int
    shoppers_reached: int


class ManualDiscountPolicyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How much a cashier may take off a line by hand at one store, and the reasons."""

    max_line_share_bp: Bp
    reasons: Annotated[list[inputs.Label], msgspec.Meta(min_length=1, max_length=50)]


class ManualDiscountPolicyOut(msgspec.Struct, frozen=True):
    store_code: str
    max_line_share_bp: int
    reasons: list[str]


# ---- what a receipt shows ----------------------------------------------------------------


class LineDiscount(msgspec.Struct, frozen=True):
    """Money a promotion (or the cashier: ``promotion_id`` 0) took off one line."""

    promotion_id: int
    kind: str
    kopecks: int


class LinePoints(msgspec.Struct, frozen=True):
    """Points a promotion added on one line."""

    promotion_id: int
    kind: str
    points: int


class Applied(msgspec.Struct, frozen=True):
    promotion_id: int
    name: str
    discount_kopecks: int
    points: int


class NotApplied(msgspec.Struct, frozen=True):
    """A promotion considered for the receipt that gave nothing, and why (``code`` for
    machines, ``reason_ru`` for the till's screen, ``reason_en`` for the operator)."""

    promotion_id: int
    name: str
    code: str
    reason_ru: str
    reason_en: str


# ---- coupons and promo codes -------------------------------------------------------------

MAX_BATCH = 1_000_000
# What a till or a shopper types: letters, digits, dashes and spaces (dropped on reading).
CouponCode = Annotated[
    str,
    msgspec.Meta(
        min_length=4,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$",
        description="a promo code: letters, digits, dashes; case and dashes do not matter",
    ),
]
Limit = Annotated[int, msgspec.Meta(ge=1, le=inputs.INT32_MAX)]


class CouponBatchIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Either ``count`` unique single-use codes (downloadable once as CSV), or one shared
    ``code`` anyone may type, or one personal code for each of ``account_ids`` (shown to
    its owner on the card page and the pass, working for nobody else)."""

    count: Annotated[int, msgspec.Meta(ge=1, le=MAX_BATCH)] | None = None
    code: CouponCode | None = None
    account_ids: Annotated[list[inputs.Id], msgspec.Meta(min_length=1, max_length=100_000)] = []
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    per_shopper_limit: Limit | None = None
    total_limit: Limit | None = None


class CouponBatchOut(msgspec.Struct, frozen=True):
    id: int
    promotion_id: int
    kind: Literal["unique", "shared", "personal"]
    count: int
    used: int
    valid_from: datetime | None
    valid_until: datetime | None
    per_shopper_limit: int | None
    total_limit: int | None
    created_at: datetime
    # Where the new codes are, until they are downloaded once (unique codes only).
    csv_url: str | None = None
    code: str | None = None
    # ``making``: a big batch the worker is still drawing (``csv_url`` comes when ready).
    status: Literal["making", "ready"] = "ready"


class CouponCheckOut(msgspec.Struct, frozen=True):
    """What a code would do for a shopper now: ``ok`` or the reason (``coupon_used``,
    ``coupon_expired``, ``coupon_unknown``, ``coupon_limit``)."""

    code: str
    ok: bool
    reason: str | None
    promotion_id: int | None
    promotion_name: str | None
    valid_until: datetime | None


class PersonalCoupon(msgspec.Struct, frozen=True):
    """A coupon assigned to a shopper, as the card page and the pass show it."""

    code: str
    promotion_id: int
    promotion_name: str
    valid_until: datetime | None


class ShopperPromotion(msgspec.Struct, frozen=True):
    """An active promotion as a shopper it concerns sees it: its name, what it gives,
    until when; ``personal``: for their segment, or theirs by a coupon (``code``)."""

    promotion_id: int
    name: str
    gives: str
    until: datetime | None
    personal: bool
    code: str | None = None
