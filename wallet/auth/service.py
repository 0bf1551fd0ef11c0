"""Who is calling: staff and till keys, shopper tokens. Secrets are kept as SHA-256 only."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal

import msgspec

from wallet import codes
from wallet.auth.tables import ApiKey, ShopperToken
from wallet.errors import InvalidInput, Unauthorized
from wallet.members.tables import Member
from wallet.stores import service as stores

Role = Literal["pos", "support", "marketer", "admin", "shopper"]
STAFF_ROLES = ("pos", "support", "marketer", "admin")
KEY_PREFIX = "wk"
SHOPPER_PREFIX = "ws"
# A key seen recently is trusted for this long without a lookup (the till hot path); a
# revoked key stops working within this many seconds in every process.
CACHE_SECONDS = 10.0


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


_cache: dict[str, tuple[float, Principal]] = {}


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
    _cache.pop(digest, None)


async def authenticate(secret: str) -> Principal:
    """The caller behind a bearer secret. Lookup is by the secret's hash, then the stored
    hash is compared in constant time, so no timing tells how much of a guess was right."""
    digest = codes.sha256_hex(secret)
    cached = _cache.get(digest)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    principal: Principal | None = None
    if secret.startswith(f"{SHOPPER_PREFIX}_"):
        row = (
            await ShopperToken.select(
                ShopperToken.token_hash,
                ShopperToken.member.id.as_alias("member_id"),
                ShopperToken.member.account.as_alias("account_id"),
                ShopperToken.member.name.as_alias("name"),
            )
            .where((ShopperToken.token_hash == digest) & ShopperToken.revoked_at.is_null())
            .first()
        )
        if row is not None and codes.same_secret(row["token_hash"], digest):
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
        raise Unauthorized("the bearer key or token is unknown or revoked")
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[digest] = (time.monotonic(), principal)
    return principal


def forget_cache() -> None:
    _cache.clear()


async def member_ids_by_email(email: str) -> int | None:
    row = await Member.select(Member.id).where(Member.email == email.strip().lower()).first()
    return None if row is None else int(row["id"])
