"""The endpoint's secret (kept encrypted, shown once) and the signature of a delivery.

A receiver checks ``X-Wallet-Signature: v1=<hex>`` = HMAC-SHA256(secret,
"<X-Wallet-Timestamp>.<raw body>") and refuses a timestamp far from its clock (a replayed
old request); the scheme is Stripe's, which most receivers already know how to check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet

from wallet import codes


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _fernet() -> Fernet:
    # Fernet wants 32 url-safe base64 bytes; the server secret is any length, so it is
    # stretched through SHA-256 under a purpose of its own.
    key = hashlib.sha256(b"webhook-secret:" + codes.secret_key()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Wallet-Signature`` value."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()
