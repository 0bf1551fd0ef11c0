from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody

from wallet import clock
from wallet.auth.guards import allow
from wallet.http import errors, principal
from wallet.members import service as members
from wallet.members.schemas import CardOut
from wallet.plastic import service


class ActivateIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    number: Annotated[
        str, msgspec.Meta(min_length=16, max_length=24, description="16 digits; spaces allowed")
    ]
    code: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=24, description="the code under the scratch layer"),
    ]


class PlasticController(Controller):
    path = "/api/v1/me/cards"
    tags = ["shopper"]
    guards = [allow("shopper")]

    @post(
        "/activate",
        operation_id="activatePlasticCard",
        summary="Claim a plastic card with its scratch code; its points join my account",
        description="Wrong codes are limited: five on one card lock it for an hour, ten by "
        "one shopper in a day stop further tries (429). An activated card cannot be claimed "
        "again (409).",
        status_code=200,
        responses=errors(400, 409, 422, 429),
    )
    async def activate(
        self, request: Request[Any, Any, Any], data: JSONBody[ActivateIn]
    ) -> CardOut:
        who = principal(request)
        assert who.account_id is not None
        card = await service.activate(
            account_id=who.account_id,
            number=data.number,
            code=data.code,
            actor=who.actor,
            now=clock.now(),
        )
        return members.card_out(card)
