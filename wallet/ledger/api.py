from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody

from wallet import clock, inputs
from wallet.auth.guards import allow
from wallet.http import errors, idempotent, principal
from wallet.inputs import PathId
from wallet.ledger import service


class AdjustmentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A manual credit (points > 0) or debit (points < 0), with the reason support gives."""

    points: Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
    reason: inputs.Reason


class AdjustmentOut(msgspec.Struct, frozen=True):
    account_id: int
    points: int
    balance_after: int
    expires_at: datetime | None
    actor: str


class AdjustmentsController(Controller):
    path = "/api/v1/admin/accounts/{account_id:int}/adjustments"
    tags = ["support: cards and accounts"]
    guards = [allow("support", "admin")]

    @post(
        operation_id="adjustPoints",
        summary="Credit or debit points by hand, with a reason (audited)",
        description="A credit is a new lot valid for the program's validity period; a debit "
        "takes the oldest-expiring points and never goes below zero (422). Send an "
        "Idempotency-Key so a double click does not adjust twice.",
        responses=errors(400, 404, 409, 422),
        status_code=201,
    )
    async def adjust(
        self,
        request: Request[Any, Any, Any],
        account_id: PathId,
        data: JSONBody[AdjustmentIn],
    ) -> AdjustmentOut:
        who = principal(request)

        async def write() -> AdjustmentOut:
            result = await service.adjust(
                account_id, data.points, reason=data.reason, actor=who.actor, now=clock.now()
            )
            return AdjustmentOut(
                account_id=account_id,
                points=data.points,
                balance_after=result.balance,
                expires_at=result.expires_at,
                actor=who.actor,
            )

        return await idempotent(
            request,
            scope=f"adjust:{account_id}",
            body=data,
            status_code=201,
            write=write,
            reply_type=AdjustmentOut,
        )
