from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from wallet import inputs
from wallet.promotions.schemas import Applied, CouponCode, LineDiscount, LinePoints, NotApplied

ReceiptId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._:/-]{1,64}$", description="the till's id, unique per store"
    ),
]
# What one till can sell: a line up to 1,000,000 ₽, a receipt up to 10,000,000 ₽ (far above
# any shop's till; far below what the ledger's columns hold, so a mistyped amount is
# refused instead of failing a write or minting billions of points).
LINE_MAX_KOPECKS = 100_000_000
RECEIPT_MAX_KOPECKS = 1_000_000_000
LINES_MAX = 1000
Kopecks = Annotated[
    int,
    msgspec.Meta(
        ge=0, le=LINE_MAX_KOPECKS, description="integer kopecks, at most 100,000,000 a line"
    ),
]
Points = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]
# What a till sends as ``card_number``: a scanned card's 16 digits, or the opaque card
# reference a phone lookup answered with (``ref.``...; spending with it needs a spend code,
# see ``spend_codes.py``).
CardRef = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([0-9]{16}|ref\.[A-Za-z0-9_=-]{40,300})$",
        description="16 digits, or the card reference of a phone lookup",
    ),
]
# The six digits the shopper got by SMS; anything else is simply a wrong code (422).
SpendCode = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[0-9]*$")]
Coupons = Annotated[
    list[CouponCode],
    msgspec.Meta(
        max_length=20,
        description="promo codes the shopper gave the cashier; each one refused is listed in "
        "not_applied with its reason (coupon_used, coupon_expired, coupon_unknown, "
        "coupon_limit, ...)",
    ),
]


class ManualDiscount(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A cashier's discount on one line: ``kopecks`` off, or ``percent_bp`` of the line,
    with a reason from the store's list; refused (422) above the store's limit."""

    reason: inputs.Label
    kopecks: Kopecks | None = None
    percent_bp: Annotated[int, msgspec.Meta(ge=0, le=10_000)] | None = None


# omit_defaults: a body without the optional fields hashes as it did before they existed,
# so a till retrying a receipt across the upgrade still gets its first reply.
class LineIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    sku: inputs.Label
    category: inputs.Label
    quantity: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
    amount: Kopecks
    brand: inputs.Label | None = None
    manual_discount: ManualDiscount | None = None


class ReceiptIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    receipt_id: ReceiptId
    card_number: CardRef
    occurred_at: datetime
    lines: Annotated[
        list[LineIn],
        msgspec.Meta(
            min_length=1,
            max_length=LINES_MAX,
            description="at most 1,000 lines adding up to at most 1,000,000,000 kopecks",
        ),
    ]
    redeem_points: Points = 0
    # Last, and left out of the request's fingerprint when empty: a till retrying a
    # receipt across the upgrade still gets its first reply.
    coupons: Coupons = []
    # Needed to spend points with a card reference (a shopper found by phone).
    spend_code: SpendCode | None = None

    def __post_init__(self) -> None:
        _check_total(self.lines)


class QuoteIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A dry run: what a receipt with these lines would redeem and earn. Without
    ``redeem_points`` the quote redeems nothing and reports the most that could be."""

    card_number: CardRef
    lines: Annotated[
        list[LineIn],
        msgspec.Meta(
            min_length=1,
            max_length=LINES_MAX,
            description="at most 1,000 lines adding up to at most 1,000,000,000 kopecks",
        ),
    ]
    redeem_points: Points = 0
    occurred_at: datetime | None = None
    coupons: Coupons = []
    spend_code: SpendCode | None = None

    def __post_init__(self) -> None:
        _check_total(self.lines)


def _check_total(lines: list[LineIn]) -> None:
    total = sum(line.amount for line in lines)
    if total > RECEIPT_MAX_KOPECKS:
        raise ValueError(
            f"the lines add up to {total} kopecks; a receipt may hold at most "
            f"{RECEIPT_MAX_KOPECKS} kopecks"
        )


class ReturnLineIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    line: Annotated[
        int, msgspec.Meta(ge=1, le=LINES_MAX, description="1-based position on the receipt")
    ]
    amount: Kopecks | None = None


class ReturnIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A return of the whole receipt (no ``lines``) or of some lines, in full or in part
    (``amount`` in kopecks of the line's price)."""

    return_id: ReceiptId
    occurred_at: datetime
    lines: list[ReturnLineIn] | None = None


class ReceiptReturnIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A return naming its receipt in the body: receipt ids may hold ``/``, which no path
    segment can carry."""

    receipt_id: ReceiptId
    return_id: ReceiptId
    occurred_at: datetime
    lines: list[ReturnLineIn] | None = None

    def as_return(self) -> ReturnIn:
        return ReturnIn(return_id=self.return_id, occurred_at=self.occurred_at, lines=self.lines)


class LineResult(msgspec.Struct, frozen=True):
    line: int
    sku: str
    category: str
    amount: int
    redeemed_kopecks: int
    paid_kopecks: int
    earned_points: int
    notes: list[str]
    # Money off the line (promotions and the cashier), each part with who gave it
    # (promotion_id 0: the cashier), and the points promotions added (in earned_points).
    discount_kopecks: int = 0
    discounts: list[LineDiscount] = []
    promotion_points: list[LinePoints] = []


class EarnPart(msgspec.Struct, frozen=True):
    rule: str
    rate_bp: int
    base_kopecks: int
    points: int


class RedeemCap(msgspec.Struct, frozen=True):
    """Why points may pay at most ``cap`` on this receipt."""

    cap: int
    by_balance: int
    by_share: int
    share_bp: int
    eligible_kopecks: int
    excluded_categories: list[str]


class Explanation(msgspec.Struct, frozen=True):
    redeem: RedeemCap
    earn: list[EarnPart]
    tier: str
    point_value_kopecks: int
    rules_version: int


class ReceiptOut(msgspec.Struct, frozen=True):
    receipt_id: str
    card_number: str
    account_id: int
    occurred_at: datetime
    total_kopecks: int
    redeemed_points: int
    redeemed_kopecks: int
    paid_kopecks: int
    earned_points: int
    earned_available_from: datetime | None
    earned_expires_at: datetime | None
    balance_after: int
    pending_after: int
    lines: list[LineResult]
    explanation: Explanation
    discount_kopecks: int = 0
    promotions: list[Applied] = []
    not_applied: list[NotApplied] = []


class QuoteOut(msgspec.Struct, frozen=True):
    card_number: str
    balance: int
    max_redeem_points: int
    redeemed_points: int
    redeemed_kopecks: int
    paid_kopecks: int
    earned_points: int
    lines: list[LineResult]
    explanation: Explanation
    discount_kopecks: int = 0
    promotions: list[Applied] = []
    not_applied: list[NotApplied] = []


class ReturnLineResult(msgspec.Struct, frozen=True):
    line: int
    returned_kopecks: int
    refund_money_kopecks: int
    reversed_points: int


class Reversal(msgspec.Struct, frozen=True):
    """Where the taken-back points came from: the receipt's own lot, the balance (they
    had been spent), or ``owed`` (not there at all: repaid from the next points)."""

    from_receipt_lot: int
    from_balance: int
    owed: int


class PromotionReturned(msgspec.Struct, frozen=True):
    promotion_id: int
    discount_kopecks: int
    points: int


class ReturnOut(msgspec.Struct, frozen=True):
    return_id: str
    receipt_id: str
    card_number: str
    returned_kopecks: int
    refund_money_kopecks: int
    refunded_points: int
    reversed_points: int
    reversal: Reversal
    balance_after: int
    pending_after: int
    debt_after: int
    lines: list[ReturnLineResult]
    # What the return took back of each promotion the kept goods no longer earn
    # (``reversed_points`` includes these points).
    promotions: list[PromotionReturned] = []
    # Coupons the return gave back to the shopper (still valid, usable again).
    coupons_returned: int = 0


class SpendCodeIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Text the shopper a code to spend points (``card_number`` as the till has it: the
    card reference of a phone lookup, or a scanned number)."""

    card_number: CardRef


class SpendCodeSent(msgspec.Struct, frozen=True):
    status: str = "code_sent"


class CardStatusOut(msgspec.Struct, frozen=True):
    card_number: str
    status: str
    account_id: int
    balance: int
    pending: int
    spendable_now: int
    tier: str
