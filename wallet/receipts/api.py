from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from wallet import clock, db
from wallet.auth.guards import allow
from wallet.errors import ErrorReply, Forbidden
from wallet.http import errors, principal
from wallet.receipts import service, spend_codes
from wallet.receipts.schemas import (
    CardStatusOut,
    QuoteIn,
    QuoteOut,
    ReceiptIn,
    ReceiptOut,
    ReceiptReturnIn,
    ReturnIn,
    ReturnOut,
    SpendCodeIn,
    SpendCodeSent,
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
        return await spend_codes.identify(number, now=clock.now())

    @post(
        "/quotes",
        operation_id="quoteReceipt",
        summary="Dry-run a receipt: how many points may pay it and why, what it would earn",
        responses=errors(400, 404, 422),
        status_code=200,
    )
    async def quote(self, request: Request[Any, Any, Any], data: JSONBody[QuoteIn]) -> QuoteOut:
        return await spend_codes.quote(data, store_id=principal(request).store_id, now=clock.now())

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
        return await spend_codes.post_receipt(
            data, store_id=store_id, actor=principal(request).actor, now=clock.now()
        )

    @post(
        "/spend-codes",
        operation_id="sendSpendCode",
        summary="Text the shopper a code to spend their points (a shopper found by phone)",
        description="`card_number` is what the phone lookup answered (a card reference) or "
        "a scanned number. The shopper gets a six-digit code by SMS (and sees it on their "
        "card page): 10 minutes, five tries, one use. The quote or receipt that spends "
        "points then carries it as `spend_code`; without it 422 `spend_code_required`, "
        "wrong, expired or used 422 `spend_code_wrong`, and nothing is spent. An expired "
        "reference is 422 `card_reference_invalid`; a shopper without a phone 422 "
        "`spend_code_unavailable`; more than five asks an hour for one shopper 429.",
        responses={
            **errors(400, 404, 422),
            429: ResponseSpec(
                data_container=ErrorReply,
                description="Too many spend codes asked for this shopper in the last hour.",
            ),
        },
        status_code=202,
    )
    async def send_spend_code(self, data: JSONBody[SpendCodeIn]) -> SpendCodeSent:
        now = clock.now()
        found = spend_codes.Resolved(data.card_number, now=now)
        async with db.write_transaction():
            await spend_codes.ask(found.number, now=now)
        return SpendCodeSent()

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
