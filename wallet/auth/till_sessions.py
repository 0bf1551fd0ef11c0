"""The web till's sessions: a tablet at the counter signs in once with a till key.

Unlike the console (which keeps the staff key itself in its cookie), the till's browser
never holds the key: a shop tablet is shared, left on the counter and cached by whoever
uses it, so the cookie carries a random token whose SHA-256 alone is stored, tied to the
key on the server. Every request looks the key up again, so revoking the key (or signing
out) ends the session at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from wallet import codes
from wallet.auth.service import Principal, authenticate
from wallet.auth.tables import TillSession
from wallet.errors import Forbidden

# A shift and a half: the tablet signs in again the next morning.
SESSION_TTL = timedelta(hours=14)
TOKEN_MAX = 100


class NotATillKey(Forbidden):
    code = "not_a_till_key"


class TillKeyWithoutStore(Forbidden):
    code = "till_key_without_store"


async def open_session(key: str, *, now: datetime) -> tuple[Principal, str]:
    """A new till session for a till (pos) key: the caller and the cookie's token, in the
    caller's transaction. Raises ``Unauthorized`` for an unknown or revoked key,
    ``NotATillKey`` for a staff key, ``TillKeyWithoutStore`` for a till key of no store
    (receipts need one)."""
    found = await authenticate(key)
    if found.role != "pos" or found.key_id is None:
        raise NotATillKey("the web till signs in with a till (pos) key")
    if found.store_id is None:
        raise TillKeyWithoutStore("this till key is not bound to a store")
    token = secrets.token_urlsafe(32)
    await TillSession.insert(
        TillSession(
            token_hash=codes.sha256_hex(token),
            key=found.key_id,
            expires_at=now + SESSION_TTL,
            created_at=now,
        )
    )
    return found, token


async def session(token: str, *, now: datetime) -> Principal | None:
    """The till key behind a live session's token, or None (unknown, expired, signed out,
    or its key revoked)."""
    if not token or len(token) > TOKEN_MAX:
        return None
    digest = codes.sha256_hex(token)
    row = (
        await TillSession.select(
            TillSession.token_hash,
            TillSession.expires_at,
            TillSession.key.id.as_alias("key_id"),
            TillSession.key.role.as_alias("role"),
            TillSession.key.name.as_alias("name"),
            TillSession.key.store_id.as_alias("store_id"),
            TillSession.key.revoked_at.as_alias("key_revoked_at"),
        )
        .where((TillSession.token_hash == digest) & TillSession.revoked_at.is_null())
        .first()
    )
    if (
        row is None
        or row["expires_at"] <= now
        or row["key_revoked_at"] is not None
        or row["role"] != "pos"
        or not codes.same_secret(row["token_hash"], digest)
    ):
        return None
    return Principal(role="pos", name=row["name"], key_id=row["key_id"], store_id=row["store_id"])


async def close_session(token: str, *, now: datetime) -> None:
    if token and len(token) <= TOKEN_MAX:
        await TillSession.update({TillSession.revoked_at: now}).where(
            TillSession.token_hash == codes.sha256_hex(token)
        )


async def prune(*, before: datetime) -> int:
    """Forget sessions that expired or were signed out before ``before`` (the nightly
    housekeeping, with the shoppers' page sessions)."""
    from wallet.platform import service as platform

    return await platform.delete_in_batches(
        "till_session", "expires_at < $1 OR revoked_at < $1", before
    )
