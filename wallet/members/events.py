"""What members tell the domains above them, inside the writing transaction (published
through ``wallet.platform.events``; ``bonuses`` pays welcome, referral, profile and
marketing-consent bonuses on them)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class MemberJoined(msgspec.Struct, frozen=True):
    """A new shopper, their account and card. ``referrer_account_id``: the account whose
    code they joined with (already checked: not their own person)."""

    member_id: int
    account_id: int
    referrer_account_id: int | None
    email: str | None
    phone: str | None
    now: datetime


class MemberChanged(msgspec.Struct, frozen=True):
    """A shopper's profile or consents changed (a marketing opt-in, a language)."""

    member_id: int
    account_id: int
    now: datetime


class CardIssued(msgspec.Struct, frozen=True):
    """A card was made on an account: at joining, a family card or plastic twin, an
    anonymous plastic card, or a replacement (``replaces``: the old number)."""

    card_id: int
    account_id: int
    number: str
    kind: str
    role: str
    replaces: str | None
    now: datetime


class CardBlocked(msgspec.Struct, frozen=True):
    """Support blocked a card (lost, stolen); the till refuses it from now on."""

    card_id: int
    account_id: int
    number: str
    now: datetime


class ConsentChanged(msgspec.Struct, frozen=True):
    """A marketing opt-in or opt-out (``consent``: marketing_email, marketing_push or
    marketing_sms), recorded in the consent trail in the same transaction."""

    member_id: int
    account_id: int
    consent: str
    value: bool
    source: str
    now: datetime
