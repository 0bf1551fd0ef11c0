"""Signed links and pass tokens: who may download a card's pass, and which token a pass
carries for Apple's web service.

The server secret and purpose-bound HMACs live in ``wallet.codes`` (shared with
campaigns' unsubscribe links and plastic activation codes).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from wallet import clock, codes, settings
from wallet.errors import Unauthorized

# A download link is for the shopper who just asked for it; /me hands out fresh ones.
LINK_LIFETIME = timedelta(hours=1)
_mac = codes.mac


def pass_token(serial: str) -> str:
    """The pass's authenticationToken: HMAC(secret key, serial). Nothing secret is stored,
    and a pass rebuilt later carries the same token Wallet already holds."""
    return _mac("passkit-token", serial)


def token_matches(serial: str, authorization: str | None) -> bool:
    scheme, _sep, token = (authorization or "").partition(" ")
    if scheme != "ApplePass" or not token:
        return False
    return codes.same_secret(token.strip(), pass_token(serial))


def _signed(path: str, card_number: str, now: datetime) -> str:
    expires = int((now + LINK_LIFETIME).timestamp())
    sig = _mac("link", f"{path}:{card_number}:{expires}")
    return f"{settings.get().base_url}{path}?expires={expires}&sig={sig}"


def apple_pass_link(card_number: str, *, now: datetime | None = None) -> str:
    """A short-lived signed link to the card's .pkpass (Safari cannot send a bearer)."""
    return _signed(f"/passes/{quote(card_number)}.pkpass", card_number, now or clock.now())


def google_save_link(card_number: str, *, now: datetime | None = None) -> str:
    """A short-lived signed link that records the save and redirects to Google."""
    return _signed(f"/passes/{quote(card_number)}/google", card_number, now or clock.now())


def check_link(path: str, card_number: str, *, expires: int, sig: str, now: datetime) -> None:
    if expires < int(now.timestamp()):
        raise Unauthorized("this pass link has expired; open your card again for a fresh one")
    if not codes.same_secret(sig, _mac("link", f"{path}:{card_number}:{expires}")):
        raise Unauthorized("this pass link is not valid")
