"""Who is calling: staff and till keys, shopper tokens. Secrets are kept as SHA-256 only."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any, Literal

import msgspec

from wallet import clock, codes, runtime
from wallet import settings as settings_module
from wallet.auth.tables import ApiKey, ShopperToken
from wallet.errors import InvalidInput, NotFound, Unauthorized
from wallet.members.tables import Member
from wallet.stores import service as stores

Role = Literal["pos", "support", "marketer", "admin", "shopper"]
STAFF_ROLES = ("pos", "support", "marketer", "admin")
KEY_PREFIX = "wk"
SHOPPER_PREFIX = "ws"
# A key seen recently is trusted for this long without a lookup (the till hot path, where
# one till posts several requests a second). Revoking drops the key from the revoking
# process's cache at once; every other process looks it up again within this bound.
CACHE_SECONDS = 1.0


class KeyNotFound(NotFound):
    code = "key_not_found"


class KeyInfo(msgspec.Struct, frozen=True):
    """A staff or till key as an operator sees it: never the key itself."""

    id: int
    prefix: str
    role: str
    name: str
    store_id: int | None
    created_at: datetime
    revoked_at: datetime | None


class Principal(msgspec.Struct, frozen=True):
    role: Role
    name: str
    key_id: int | None = None
    store_id: int | None = None
    member_id: int | None = None
    account_id: int | None = None

    @property
    def actor(self) -> str:
        if self.role == "shopper":
            return f"shopper:{self.member_id}"
        return f"{self.role}:{self.name or self.key_id}"


def _cache() -> dict[str, tuple[float, Any, datetime | None]]:
    """digest -> (when looked up, the caller, when a shopper token expires), per runtime"""
    return runtime.current().caches.principals


def shopper_token_ttl() -> timedelta:
    return timedelta(days=settings_module.get().shopper_token_days)


async def create_key(
    *, role: str, store_code: str | None, name: str, now: datetime
) -> tuple[str, Principal]:
    """A new staff key; the key itself is returned once and never stored."""
    if role not in STAFF_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(STAFF_ROLES)}", {"role": role})
    store_id = None
    if role == "pos":
        if not store_code:
            raise InvalidInput("a till key is bound to a store: give --store CODE")
        store_id = (await stores.get_store(store_code)).id
    secret = codes.new_secret(f"{KEY_PREFIX}_{role}")
    rows = await ApiKey.insert(
        ApiKey(
            key_hash=codes.sha256_hex(secret),
            prefix=secret[:12],
            role=role,
            store_id=store_id,
            name=name,
            created_at=now,
        )
    ).returning(ApiKey.id)
    return secret, Principal(role=role, name=name, key_id=rows[0]["id"], store_id=store_id)  # type: ignore[arg-type]


async def issue_shopper_token(member_id: int, *, now: datetime) -> str:
    secret = codes.new_secret(SHOPPER_PREFIX)
    await ShopperToken.insert(
        ShopperToken(token_hash=codes.sha256_hex(secret), member=member_id, created_at=now)
    )
    return secret


async def revoke_shopper_token(secret: str, *, now: datetime) -> None:
    digest = codes.sha256_hex(secret)
    await ShopperToken.update({ShopperToken.revoked_at: now}).where(
        ShopperToken.token_hash == digest
    )
    _cache().pop(digest, None)


async def authenticate(secret: str) -> Principal:
    """The caller behind a bearer secret. Lookup is by the secret's hash, then the stored
    hash is compared in constant time, so no timing tells how much of a guess was right."""
    digest = codes.sha256_hex(secret)
    now = clock.now()
    cached = _cache().get(digest)
    if (
        cached is not None
        and time.monotonic() - cached[0] < CACHE_SECONDS
        and (cached[2] is None or now < cached[2])
    ):
        return cached[1]
    # One lookup per key at a time: when the entry lapses under load, the 50 requests of
    # that moment wait for one query instead of sending 50.
    lookups = runtime.current().caches.principal_lookups
    pending = lookups.get(digest)
    if pending is not None:
        try:
            found: Principal = await asyncio.shield(pending)
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # this request was cancelled
            return await _look_up(secret, digest, now)  # the one looking up was cancelled
        return found
    lookup = asyncio.get_running_loop().create_future()
    lookups[digest] = lookup
    try:
        principal = await _look_up(secret, digest, now)
    except Exception as failed:
        lookup.set_exception(failed)
        lookup.exception()  # the waiters (if any) raise it; with none it is not logged
        raise
    except BaseException:
        lookup.cancel()
        raise
    else:
        lookup.set_result(principal)
        return principal
    finally:
        del lookups[digest]


async def _look_up(secret: str, digest: str, now: datetime) -> Principal:
    principal: Principal | None = None
    expires_at: datetime | None = None
    if secret.startswith(f"{SHOPPER_PREFIX}_"):
        row = (
            await ShopperToken.select(
                ShopperToken.token_hash,
                ShopperToken.created_at,
                ShopperToken.member.id.as_alias("member_id"),
                ShopperToken.member.account.as_alias("account_id"),
                ShopperToken.member.name.as_alias("name"),
            )
            .where((ShopperToken.token_hash == digest) & ShopperToken.revoked_at.is_null())
            .first()
        )
        if row is not None:
            # A token lives for the configured days from its issue, so a changed setting
            # applies to tokens already handed out.
            expires_at = row["created_at"] + shopper_token_ttl()
        if (
            row is not None
            and expires_at is not None
            and now < expires_at
            and codes.same_secret(row["token_hash"], digest)
        ):
            principal = Principal(
                role="shopper",
                name=row["name"],
                member_id=row["member_id"],
                account_id=row["account_id"],
            )
    elif secret.startswith(f"{KEY_PREFIX}_"):
        row = (
            await ApiKey.select(
                ApiKey.id, ApiKey.key_hash, ApiKey.role, ApiKey.store_id, ApiKey.name
            )
            .where((ApiKey.key_hash == digest) & ApiKey.revoked_at.is_null())
            .first()
        )
        if row is not None and codes.same_secret(row["key_hash"], digest):
            principal = Principal(
                role=row["role"], name=row["name"], key_id=row["id"], store_id=row["store_id"]
            )
    if principal is None:
        raise Unauthorized("the bearer key or token is unknown, expired or revoked")
    if len(_cache()) > 10_000:
        _cache().clear()
    _cache()[digest] = (time.monotonic(), principal, expires_at)
    return principal


async def list_keys() -> list[KeyInfo]:
    rows = await ApiKey.select(
        ApiKey.id,
        ApiKey.prefix,
        ApiKey.role,
        ApiKey.name,
        ApiKey.store_id,
        ApiKey.created_at,
        ApiKey.revoked_at,
    ).order_by(ApiKey.id)
    return [KeyInfo(**row) for row in rows]


async def revoke_key(key_id: int, *, actor: str, now: datetime) -> KeyInfo:
    """Revoke a staff or till key, in the caller's transaction, audited. Revoking a revoked
    key changes nothing and keeps the first revocation time."""
    from wallet.platform import service as platform

    row = (
        await ApiKey.select(ApiKey.id, ApiKey.key_hash, ApiKey.revoked_at)
        .where(ApiKey.id == key_id)
        .first()
    )
    if row is None:
        raise KeyNotFound(f"no key with id {key_id}", {"key_id": key_id})
    if row["revoked_at"] is None:
        await ApiKey.update({ApiKey.revoked_at: now}).where(
            (ApiKey.id == key_id) & ApiKey.revoked_at.is_null()
        )
        await platform.audit(
            actor=actor, action="key.revoke", subject=f"api_key:{key_id}", details={}
        )
    _cache().pop(row["key_hash"], None)
    [found] = [key for key in await list_keys() if key.id == key_id]
    return found


def forget_cache() -> None:
    _cache().clear()


async def member_ids_by_email(email: str) -> int | None:
    row = await Member.select(Member.id).where(Member.email == email.strip().lower()).first()
    return None if row is None else int(row["id"])


async def revoke_member_tokens(member_id: int, *, now: datetime) -> int:
    """Revoke every live token of a shopper (erasure), in the caller's transaction; their
    cache entries go at once in this process (others look them up again within
    ``CACHE_SECONDS``)."""
    rows = await ShopperToken.select(ShopperToken.token_hash).where(
        (ShopperToken.member == member_id) & ShopperToken.revoked_at.is_null()
    )
    await ShopperToken.update({ShopperToken.revoked_at: now}).where(
        (ShopperToken.member == member_id) & ShopperToken.revoked_at.is_null()
    )
    for row in rows:
        _cache().pop(row["token_hash"], None)
    return len(rows)
