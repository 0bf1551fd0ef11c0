from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from wallet import clock
from wallet.auth.guards import allow
from wallet.errors import Forbidden
from wallet.http import errors, principal
from wallet.receipts import service
from wallet.receipts.schemas import (
    CardStatusOut,
    QuoteIn,
    QuoteOut,
    ReceiptIn,
    ReceiptOut,
    ReceiptReturnIn,
    ReturnIn,
    ReturnOut,
)


def _store_of(request: Request[Any, Any, Any]) -> int:
    who = principal(request)
    if who.store_id is None:
        raise Forbidden("this till key is not bound to a store; create it with --store CODE")
    return who.store_id


class PosController(Controller):
    path = "/api/v1/pos"
    tags = ["till (POS)"]
    guards = [allow("pos")]

    @get(
        "/cards/{number:str}",
        operation_id="identifyCard",
        summary="Identify a card: status, balance, points spendable now",
        responses=errors(404, 422),
    )
    async def identify(self, number: FromPath[str]) -> CardStatusOut:
        return await service.identify(number, now=clock.now())

    @post(
        "/quotes",
        operation_id="quoteReceipt",
        summary="Dry-run a receipt: how many points may pay it and why, what it would earn",
        responses=errors(400, 404, 422),
        status_code=200,
    )
    async def quote(self, request: Request[Any, Any, Any], data: JSONBody[QuoteIn]) -> QuoteOut:
        return await service.quote(data, store_id=principal(request).store_id, now=clock.now())

    @post(
        "/receipts",
        operation_id="postReceipt",
        summary="Post a receipt: redeem the points asked, earn on the money paid",
        description="Idempotent on receipt_id within the store: a retry returns the first "
        "reply; the same id with a different body is 409. Asking to redeem more than "
        "allowed is 422 with the cap in details.",
        responses=errors(400, 404, 409, 422),
        status_code=201,
    )
    async def post_receipt(
        self, request: Request[Any, Any, Any], data: JSONBody[ReceiptIn]
    ) -> ReceiptOut:
        store_id = _store_of(request)
        return await service.post_receipt(
            data, store_id=store_id, actor=principal(request).actor, now=clock.now()
        )

    @post(
        "/receipts/{receipt_id:str}/returns",
        operation_id="postReturn",
        summary="Return a whole receipt or some of its lines",
        description="Reverses what the returned lines earned and gives back what they "
        "redeemed (as new lots keeping the original expiry). Idempotent on return_id. "
        "A receipt id holding `/` cannot be put in this path: use `POST /api/v1/pos/returns`.",
        responses=errors(400, 404, 409, 422),
        status_code=201,
    )
    async def post_return(
        self, request: Request[Any, Any, Any], receipt_id: FromPath[str], data: JSONBody[ReturnIn]
    ) -> ReturnOut:
        store_id = _store_of(request)
        return await service.post_return(
            receipt_id, data, store_id=store_id, actor=principal(request).actor, now=clock.now()
        )

    @post(
        "/returns",
        operation_id="postReturnByBody",
        summary="Return a whole receipt or some of its lines, the receipt named in the body",
        description="As `postReturn`, for any receipt id, including ids that hold `/` "
        "(e.g. `SL/1`). Idempotent on return_id.",
        responses=errors(400, 404, 409, 422),
        status_code=201,
    )
    async def post_return_by_body(
        self, request: Request[Any, Any, Any], data: JSONBody[ReceiptReturnIn]
    ) -> ReturnOut:
        store_id = _store_of(request)
        return await service.post_return(
            data.receipt_id,
            data.as_return(),
            store_id=store_id,
            actor=principal(request).actor,
            now=clock.now(),
        )
