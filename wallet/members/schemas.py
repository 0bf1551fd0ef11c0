from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from wallet import inputs, phones
from wallet.inputs import Name

Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")]
Phone = phones.Phone
CardNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{16}$", description="16 digits")]
ConsentVersion = inputs.ShortLine
ReferralCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{1,12}-[0-9A-Za-z]{6}$")]
# The language of the shopper's emails.
Language = Literal["ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "en")


class Consents(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the shopper agreed to. Program and data processing are required to join;
    marketing email, push and SMS are separate, unticked by default."""

    program: bool
    personal_data: bool
    terms_version: ConsentVersion
    marketing_email: bool = False
    marketing_push: bool = False
    marketing_sms: bool = False


class EnrolIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    consents: Consents
    email: Email | None = None
    phone: Phone | None = None
    birthday: date | None = None
    join_store: inputs.ShortLine | None = None
    language: Language = "ru"
    # A friend's referral code (the join page's ``?ref=``): both get points after this
    # shopper's first paid receipt.
    ref: ReferralCode | None = None


class MeUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a shopper may change about themselves; a field left out stays as it is."""

    language: Language | None = None
    # A new phone (stored in E.164); another member's number is a 409.
    phone: Phone | None = None
    # Marketing by email and by messages on the card (Apple/Google pass, «Кошелёк"); each
    # change is a row of the consent trail, like the unsubscribe link's.
    marketing_email: bool | None = None
    marketing_push: bool | None = None
    # Marketing SMS (campaigns by SMS; sign-in and spend codes are not marketing).
    marketing_sms: bool | None = None


class CardOut(msgspec.Struct, frozen=True):
    number: str
    kind: str
    role: str
    status: str
    holder_name: str


class Links(msgspec.Struct, frozen=True):
    qr_png: str
    qr_svg: str
    card_page: str
    apple_pass: str | None = None
    google_save: str | None = None


class EnrolOut(msgspec.Struct, frozen=True):
    card_number: str
    account_id: int
    links: Links
    # Null on a retry with the same Idempotency-Key: a replay never hands out a credential
    # (sign in with a code for a new token).
    shopper_token: str | None = None


class SignInCodeSent(msgspec.Struct, frozen=True):
    """The answer to enrolling a contact that is already a member: no card, no token; a
    sign-in code went to the member's email."""

    status: Literal["code_sent"]
    message: str
    # The address the code went to, when it is the one given in the request.
    email: str | None = None


class ExpiryOut(msgspec.Struct, frozen=True):
    points: int
    expires_at: datetime


class ReferralOut(msgspec.Struct, frozen=True):
    """The shopper's own code and the join link to share with friends."""

    code: str
    link: str


class TierOut(msgspec.Struct, frozen=True):
    """The tier and what is missing for the next one (``None`` at the top)."""

    name: str
    earn_rate_bp: int
    next_tier: str | None
    next_earn_rate_bp: int | None
    missing_kopecks: int | None
    progress: str | None
    # The tier's benefits beyond its rate: money off every line, and the share of a
    # receipt points may pay when above the program's (None: the program's share).
    discount_bp: int = 0
    redeem_share_bp: int | None = None


class MeOut(msgspec.Struct, frozen=True):
    account_id: int
    name: str
    email: str | None
    phone: str | None
    language: Language
    balance: int
    pending: int
    debt: int
    tier: str
    next_expiry: ExpiryOut | None
    pending_lots: list[ExpiryOut]
    cards: list[CardOut]
    links: Links
    tier_progress: TierOut | None = None
    referral: ReferralOut | None = None
    marketing_email: bool = False
    """Whether the shopper gets marketing email (campaigns); PATCH /me switches it."""
    marketing_push: bool = False
    """Whether campaigns may send messages to the shopper's card (pass messages)."""
    marketing_sms: bool = False
    """Whether campaigns may send the shopper marketing SMS; PATCH /me switches it."""


class AddCardIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: Literal["virtual", "plastic"]
    role: Literal["family", "twin"]
    holder_name: inputs.OptionalName = ""
    number: CardNumber | None = None


class CardReplaced(msgspec.Struct, frozen=True):
    old_number: str
    new_number: str
    account_id: int
