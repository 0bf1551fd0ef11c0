from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from wallet.members.schemas import CardNumber

ReceiptId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._:/-]{1,64}$", description="the till's id, unique per store"
    ),
]
Kopecks = Annotated[int, msgspec.Meta(ge=0, le=100_000_000_00, description="integer kopecks")]
Points = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]


class LineIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sku: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    quantity: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
    amount: Kopecks


class ReceiptIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    receipt_id: ReceiptId
    card_number: CardNumber
    occurred_at: datetime
    lines: Annotated[list[LineIn], msgspec.Meta(min_length=1, max_length=1000)]
    redeem_points: Points = 0


class QuoteIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A dry run: what a receipt with these lines would redeem and earn. Without
    ``redeem_points`` the quote redeems nothing and reports the most that could be."""

    card_number: CardNumber
    lines: Annotated[list[LineIn], msgspec.Meta(min_length=1, max_length=1000)]
    redeem_points: Points = 0
    occurred_at: datetime | None = None


class ReturnLineIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    line: Annotated[int, msgspec.Meta(ge=1, description="1-based position on the receipt")]
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


class CardStatusOut(msgspec.Struct, frozen=True):
    card_number: str
    status: str
    account_id: int
    balance: int
    pending: int
    spendable_now: int
    tier: str
