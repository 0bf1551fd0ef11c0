from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from wallet import clock
from wallet.auth.guards import allow
from wallet.http import errors, idempotent, principal
from wallet.inputs import PathId
from wallet.ledger import reads as ledger_reads
from wallet.members import service
from wallet.members.schemas import (
    AddCardIn,
    CardOut,
    CardReplaced,
)


class Reason(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class AdminCardsController(Controller):
    path = "/api/v1/admin"
    tags = ["support: cards and accounts"]
    guards = [allow("support", "admin")]

    @post(
        "/cards/{number:str}/block",
        operation_id="blockCard",
        summary="Block a card (lost or stolen): tills refuse it from now on",
        responses=errors(400, 404, 409, 422),
        status_code=200,
    )
    async def block(
        self, request: Request[Any, Any, Any], number: FromPath[str], data: JSONBody[Reason]
    ) -> CardOut:
        who = principal(request)

        async def write() -> CardOut:
            card = await service.block_card(
                number, actor=who.actor, reason=data.reason, now=clock.now()
            )
            return service.card_out(card)

        return await idempotent(
            request,
            scope=f"block:{number}",
            body=data,
            status_code=200,
            write=write,
            reply_type=CardOut,
        )

    @post(
        "/cards/{number:str}/replace",
        operation_id="replaceCard",
        summary="Replace a card: a new number on the same account, the old one refused",
        responses=errors(400, 404, 409, 422),
        status_code=200,
    )
    async def replace(
        self, request: Request[Any, Any, Any], number: FromPath[str], data: JSONBody[Reason]
    ) -> CardReplaced:
        who = principal(request)

        async def write() -> CardReplaced:
            new = await service.replace_card(
                number, actor=who.actor, reason=data.reason, now=clock.now()
            )
            return CardReplaced(old_number=number, new_number=new.number, account_id=new.account_id)

        return await idempotent(
            request,
            scope=f"replace:{number}",
            body=data,
            status_code=200,
            write=write,
            reply_type=CardReplaced,
        )

    @post(
        "/accounts/{account_id:int}/cards",
        operation_id="addCard",
        summary="Add a family card or a plastic twin to an account",
        responses=errors(400, 404, 409, 422),
        status_code=201,
    )
    async def add_card(
        self, request: Request[Any, Any, Any], account_id: PathId, data: JSONBody[AddCardIn]
    ) -> CardOut:
        who = principal(request)

        async def write() -> CardOut:
            card = await service.add_card(account_id, data, actor=who.actor, now=clock.now())
            return service.card_out(card)

        return await idempotent(
            request,
            scope=f"add-card:{account_id}",
            body=data,
            status_code=201,
            write=write,
            reply_type=CardOut,
        )

    @get(
        "/accounts/{account_id:int}/reconcile",
        operation_id="reconcileAccount",
        summary="Check that the account's balance, lots and journal agree",
        responses=errors(404),
    )
    async def reconcile(self, account_id: PathId) -> list[str]:
        return await ledger_reads.reconcile(account_id, now=clock.now())
