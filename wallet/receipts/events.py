"""What the till tells the domains above it, inside the receipt's or return's transaction
(published through ``wallet.platform.events``; ``offers`` moves cashback progress on them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec


class ReceiptPosted(msgspec.Struct, frozen=True):
    """A new receipt, after the ledger's writes and before its own row (written last, with
    the till's reply: read what it says from here). ``lines``: (category, money paid)."""

    account_id: int
    card_id: int
    receipt_pk: int
    occurred_at: datetime
    lines: Sequence[tuple[str, int]]
    paid_kopecks: int
    earned_points: int
    now: datetime


class ReturnPosted(msgspec.Struct, frozen=True):
    """A new return. ``occurred_at`` is the sale's time (the spend belonged to that month);
    ``lines``: (category, money given back)."""

    account_id: int
    card_id: int
    receipt_pk: int
    occurred_at: datetime
    lines: Sequence[tuple[str, int]]
    now: datetime
