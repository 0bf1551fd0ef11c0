"""The "Save to Google Wallet" link: an RS256 JWT signed with the service-account key.

Claims per developers.google.com/wallet/generic/web/save-to-wallet (JWT reference):
iss = the service account email, aud = "google", typ = "savetowallet", iat, origins,
payload.loyaltyObjects. Browsers and some Android intents cut URLs around 2,000
characters, so a link is kept under 1,800: an object Google already holds is sent as
{id, classId} only, and a link that is still too long is refused rather than truncated.
``fitting_save_link`` is for an object Google does not hold yet (its API could not be
reached): it sends the object trimmed until the link fits.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SAVE_URL_PREFIX = "https://pay.google.com/gp/v/save/"
MAX_LINK_LENGTH = 1800


class SaveLinkTooLong(ValueError):
    """The JWT would not fit a URL; send object references for objects that exist."""


class ServiceAccount:
    """A Google service-account key (the JSON Google Cloud hands out), loaded once."""

    def __init__(self, email: str, private_key: rsa.RSAPrivateKey, key_id: str) -> None:
        self.email = email
        self.private_key = private_key
        self.key_id = key_id

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccount:
        info = json.loads(Path(path).read_text())
        if info.get("type") != "service_account":
            raise ValueError(f"{path}: not a service-account key (type={info.get('type')!r})")
        key = serialization.load_pem_private_key(info["private_key"].encode(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: the service-account key must be RSA (RS256)")
        return cls(info["client_email"], key, info["private_key_id"])

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        signing_input = _b64(msgspec.json.encode(header)) + "." + _b64(msgspec.json.encode(claims))
        signature = self.private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return signing_input + "." + _b64(signature)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def object_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """What to put in the JWT for an object Google already has: its id and class id."""
    return {"id": obj["id"], "classId": obj["classId"]}


def _link(
    account: ServiceAccount,
    loyalty_objects: list[dict[str, Any]],
    origins: Sequence[str],
    issued_at: int | None,
) -> str:
    claims = {
        "iss": account.email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(time.time()) if issued_at is None else issued_at,
        "origins": list(origins),
        "payload": {"loyaltyObjects": loyalty_objects},
    }
    return SAVE_URL_PREFIX + account.sign_jwt(claims)


def save_link(
    account: ServiceAccount,
    objects: Sequence[dict[str, Any]],
    origins: Sequence[str],
    *,
    existing_ids: frozenset[str] | set[str] = frozenset(),
    issued_at: int | None = None,
) -> str:
    """`https://pay.google.com/gp/v/save/<jwt>` adding `objects` to the shopper's wallet.

    Objects whose id is in `existing_ids` (already inserted through the REST API) travel as
    references, which keeps the link short and lets later PATCHes own their content.
    """
    loyalty_objects = [
        object_reference(obj) if obj["id"] in existing_ids else obj for obj in objects
    ]
    link = _link(account, loyalty_objects, origins, issued_at)
    if len(link) > MAX_LINK_LENGTH:
        raise SaveLinkTooLong(
            f"save link is {len(link)} characters (limit {MAX_LINK_LENGTH}); insert the object "
            "through the REST API first and pass its id in existing_ids"
        )
    return link


# What a link may leave out of a new object, most expendable first: the class carries the
# stores and links as well, and the worker PATCHes the whole object in once Google answers.
_EXPENDABLE = ("merchantLocations", "linksModuleData")
_EXPENDABLE_TEXTS = ("message", "burn_notice", "pending", "next_expiry")


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _trimmed(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`obj`, then ever smaller versions of it, each still a whole LoyaltyObject."""
    yield obj
    smaller = _without(obj, *_EXPENDABLE)
    yield smaller
    texts = list(smaller.get("textModulesData", []))
    for expendable in _EXPENDABLE_TEXTS:
        if any(t.get("id") == expendable for t in texts):
            texts = [t for t in texts if t.get("id") != expendable]
            smaller = {**_without(smaller, "textModulesData"), "textModulesData": texts}
            yield smaller if texts else _without(smaller, "textModulesData")
    smaller = _without(smaller, "textModulesData")
    yield smaller
    # The English labels and the text under the QR code: the phone shows the Russian label,
    # and the card number is the account id too.
    for key in ("loyaltyPoints", "secondaryLoyaltyPoints"):
        if key in smaller:
            smaller = {**smaller, key: _without(smaller[key], "localizedLabel")}
    if "barcode" in smaller:
        smaller = {**smaller, "barcode": _without(smaller["barcode"], "alternateText")}
    yield smaller
    # A name of a hundred letters or more: the pass shows its start.
    name = str(smaller.get("accountName", ""))
    for keep in (100, 60, 30):
        if len(name) > keep:
            yield {**smaller, "accountName": name[:keep].rstrip() + "…"}
    yield _without(smaller, "accountName")


def fitting_save_link(
    account: ServiceAccount,
    obj: dict[str, Any],
    origins: Sequence[str],
    *,
    issued_at: int | None = None,
) -> str:
    """A save link carrying `obj` whole if it fits, else trimmed (locations, links and
    messages go first) until it does; never refused. For an object Google does not hold
    yet, when its REST API could not be reached to insert it."""
    for candidate in _trimmed(obj):
        link = _link(account, [candidate], origins, issued_at)
        if len(link) <= MAX_LINK_LENGTH:
            return link
    # Only origins or ids of absurd length get here: a reference saves the card once the
    # worker has inserted the object, which beats a link no browser opens.
    return _link(account, [object_reference(obj)], origins, issued_at)
