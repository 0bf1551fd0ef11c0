"""Staff and till keys for administrators: list them, revoke one."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post

from wallet import clock, db
from wallet.auth import service
from wallet.auth.guards import allow
from wallet.auth.service import KeyInfo
from wallet.http import errors, principal
from wallet.inputs import PathId


class KeysController(Controller):
    path = "/api/v1/admin/keys"
    tags = ["admin: keys"]
    guards = [allow("admin")]

    @get(
        operation_id="listKeys",
        summary="Every staff and till key (never the key itself)",
        responses=errors(),
    )
    async def list_keys(self) -> list[KeyInfo]:
        return await service.list_keys()

    @post(
        "/{key_id:int}/revoke",
        operation_id="revokeKey",
        summary="Revoke a key: it stops working at once (other processes within a second)",
        description="Audited. Revoking a revoked key answers the key as it is.",
        status_code=200,
        responses=errors(404),
    )
    async def revoke(self, request: Request[Any, Any, Any], key_id: PathId) -> KeyInfo:
        who = principal(request)
        async with db.write_transaction():
            return await service.revoke_key(key_id, actor=who.actor, now=clock.now())
