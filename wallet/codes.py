"""Card numbers, secrets and request fingerprints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import msgspec

from wallet import runtime

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


# ---------------------------------------------------------------- the server secret

SECRET_FILE = "secret.key"


def ensure_secret_key(folder: Path) -> Path:
    """Make ``<certs_dir>/secret.key`` once (random, mode 0600); never logged."""
    path = folder / SECRET_FILE
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path


def secret_key() -> bytes:
    """``WALLET_SECRET_KEY``, or the one kept in the certificates folder (embedded default)."""
    running = runtime.current()
    cfg = running.settings
    cache_key = (cfg.secret_key, str(cfg.certs_dir))
    found = running.caches.secrets.get(cache_key)
    if found is None:
        if cfg.secret_key:
            found = cfg.secret_key.encode()
        else:
            found = ensure_secret_key(cfg.certs_dir).read_text().strip().encode()
        running.caches.secrets[cache_key] = found
    return found


def mac(purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under the server secret, for one ``purpose`` (so a MAC made
    for one use is worthless for another), URL-safe base64 without padding."""
    digest = hmac.new(secret_key(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
