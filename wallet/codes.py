"""Card numbers, secrets and request fingerprints."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import msgspec

# Card numbers are 16 digits: a program prefix, 13 random digits, a Luhn check digit, so a
# mistyped digit at the till is caught before any lookup.
CARD_PREFIX = "77"
CARD_LENGTH = 16


def luhn_check_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def new_card_number() -> str:
    body = CARD_PREFIX + "".join(
        secrets.choice("0123456789") for _ in range(CARD_LENGTH - len(CARD_PREFIX) - 1)
    )
    return body + luhn_check_digit(body)


def is_valid_card_number(number: str) -> bool:
    return (
        len(number) == CARD_LENGTH
        and number.isdigit()
        and luhn_check_digit(number[:-1]) == number[-1]
    )


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def sha256_hex(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def fingerprint(body: msgspec.Struct) -> str:
    """A stable hash of a request body: a retry with the same body has the same one."""
    return sha256_hex(msgspec.json.encode(body))
