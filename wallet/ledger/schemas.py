from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

JournalKind = Literal[
    "earn", "redeem", "return", "refund", "expire", "adjust", "debt", "repay", "transfer"
]


class AccountState(msgspec.Struct):
    """The account row as the write path sees it, under its lock."""

    id: int
    balance: int
    pending: int
    debt: int
    lifetime_spend_kopecks: int
    next_lot_event_at: datetime | None


class LotTaken(msgspec.Struct, frozen=True):
    lot_id: int
    points: int
    expires_at: datetime


class Expiry(msgspec.Struct, frozen=True):
    points: int
    expires_at: datetime


class Summary(msgspec.Struct, frozen=True):
    balance: int
    pending: int
    debt: int
    lifetime_spend_kopecks: int
    next_expiry: Expiry | None
    pending_lots: list[Expiry]


class JournalLine(msgspec.Struct, frozen=True):
    id: int
    kind: str
    points: int
    receipt_id: int | None
    lot_expires_at: datetime | None
    actor: str
    reason: str
    created_at: datetime
