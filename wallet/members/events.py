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
