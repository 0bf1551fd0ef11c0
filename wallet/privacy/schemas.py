"""Replies and requests of the data-rights API (152-FZ)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from wallet.members.privacy import ConsentRow, Found, Profile

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class CardOut(msgspec.Struct, frozen=True):
    number: str
    kind: str
    role: str
    status: str
    holder_name: str


class Export(msgspec.Struct, frozen=True):
    """Everything we hold about one shopper."""

    exported_at: datetime
    profile: Profile
    consents: list[ConsentRow]
    cards: list[CardOut]
    balance: int
    movements: list[dict[str, Any]]
    receipts: list[dict[str, Any]]
    offers: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    # Purchases made in the previous program, brought by the chain's import.
    imported_receipts: list[dict[str, Any]] = []


class EraseIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Without ``code``: email me a code to confirm. With it: erase me."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=20)] | None = None


class SupportEraseIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason


class CodeSent(msgspec.Struct, frozen=True):
    status: str
    email: str


class Erased(msgspec.Struct, frozen=True):
    member_id: int
    account_id: int
    # The first erasure's time: asking again answers the same.
    erased_at: datetime


class RetentionReport(msgspec.Struct, frozen=True):
    years: int
    cutoff: datetime | None
    dry_run: bool
    # Members with no activity since the cutoff (erased unless a dry run).
    member_ids: list[int]


class SearchOut(msgspec.Struct, frozen=True):
    members: list[Found]


class AccessEvent(msgspec.Struct, frozen=True):
    id: int
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    created_at: datetime


class TimelineEvent(msgspec.Struct, frozen=True):
    at: datetime
    # joined, consent, receipt, return, adjustment, points (expiry, cashback, bonuses),
    # message, pass
    kind: str
    summary: str
    details: dict[str, Any]


class Timeline(msgspec.Struct, frozen=True):
    member_id: int
    account_id: int
    # Newest first; ``more``: older events are left, ask with ``before`` = the last ``at``.
    events: list[TimelineEvent]
    more: bool
