"""Event bonuses as a marketer sets them: each kind is off when left out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Points = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Days = Annotated[int, msgspec.Meta(ge=0, le=30)]


class Welcome(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Points on joining, or (``after_first_purchase``) on the first paid receipt."""

    points: Points
    after_first_purchase: bool = False


class Birthday(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Within ``days_before``..``days_after`` the birthday (program time zone): each
    receipt earns ``multiplier`` times its base points ("multiplier"), or the first
    receipt of the window gets ``points`` once a year ("fixed")."""

    mode: Literal["multiplier", "fixed"] = "multiplier"
    multiplier: Annotated[int, msgspec.Meta(ge=2, le=10)] = 2
    points: Points | None = None
    days_before: Days = 0
    days_after: Days = 0


class ReferralBonus(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Points to the friend who shared the code and to the new shopper, after the new
    shopper's first paid receipt."""

    referrer_points: Points
    friend_points: Points


class OncePerAccount(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    points: Points


class BonusesIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole set of event bonuses; a kind left out (or null) is off."""

    welcome: Welcome | None = None
    birthday: Birthday | None = None
    referral: ReferralBonus | None = None
    # Name, email, phone and birthday all given.
    profile_complete: OncePerAccount | None = None
    # Email or push marketing consented to.
    marketing_consent: OncePerAccount | None = None


class BonusesOut(msgspec.Struct, frozen=True):
    bonuses: BonusesIn
    updated_by: str
    updated_at: datetime | None


class ReferralCodeIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{1,12}-[0-9A-Za-z]{6}$")]


class ReferralOut(msgspec.Struct, frozen=True):
    referrer_account_id: int
    status: str
