"""One way to read a phone number, wherever one comes in (enrolment, /join, /me, support
search, Кошелёк, sign-in, the till).

``8 (912) 345-67-89``, ``+7 912 345 67 89`` and ``79123456789`` are one shopper: every
number is parsed with ``phonenumbers`` (Google's libphonenumber metadata) and stored as
E.164 (``+79123456789``). A number written without a country code is read in the program's
region (``WALLET_PHONE_REGION``, RU by default). The member table's unique index on the
E.164 form is what makes it one account per phone.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec
import phonenumbers

from wallet import settings as settings_module
from wallet.errors import InvalidInput

# Longer than any number written with spaces and brackets; more is not a phone.
MAX_TYPED = 40
# What a typed number may hold besides digits.
PATTERN = r"^[0-9+()\-. ]+$"
_TYPED = re.compile(r"^[0-9+()\-. ]{1,40}$")

# A phone in a request body or query, typed any way ("8 (912) 345-67-89"); the boundary
# reads it with ``normalise`` (a body the pattern refuses is also a 422 naming the field,
# see ``wallet.errors``).
Phone = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_TYPED,
        pattern=PATTERN,
        description="a phone number with the country code (without it: the program's region); "
        "stored in E.164",
        examples=["+79123456789"],
    ),
]


class InvalidPhone(InvalidInput):
    """A phone number that is not a possible number of any country."""

    code = "invalid_phone"


def _region() -> str:
    return settings_module.get().phone_region


def parse(raw: str) -> str | None:
    """The E.164 form of ``raw``, or None when it is not a valid number."""
    text = raw.strip()
    if not text or not _TYPED.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    region = _region()
    # "79123456789": a full international number typed without "+" (as Кошелёк and many
    # tills send them). Read it as such when it is valid that way and not as a local one.
    candidates = [text]
    if not text.startswith("+") and 11 <= len(digits) <= 15:
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def normalise(raw: str, *, field: str = "phone") -> str:
    """The E.164 form of ``raw``; a 422 naming ``field`` when it is not a valid number."""
    found = parse(raw)
    if found is None:
        raise InvalidPhone(
            f"{field}: {raw.strip()[:MAX_TYPED]!r} is not a valid phone number; write it with "
            f"the country code, e.g. +7 912 345-67-89",
            {"field": field},
        )
    return found


def normalise_optional(raw: str | None, *, field: str = "phone") -> str | None:
    if raw is None or not raw.strip():
        return None
    return normalise(raw, field=field)


def digits(e164: str) -> str:
    """The number without "+", as SMPP and Кошелёк carry it."""
    return e164.lstrip("+")


def masked(e164: str) -> str:
    """For logs and replies that must not show the whole number: +7 *** ***-**-89."""
    return f"{e164[:2]}***{e164[-2:]}" if len(e164) > 4 else "***"
