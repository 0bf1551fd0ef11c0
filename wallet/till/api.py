"""What the web till's page asks the server, as JSON under ``/till/api``.

Each route calls the very service function its POS API twin calls, with the same request
and reply types (``wallet.receipts.schemas``), so the web till quotes, posts and returns
exactly as an integrated register does: ``/till/api/quotes`` is ``POST
/api/v1/pos/quotes``, ``/till/api/receipts`` is ``POST /api/v1/pos/receipts``,
``/till/api/returns`` is ``POST /api/v1/pos/returns``, and a phone lookup counts against
the same till key's allowance as ``GET /api/v1/pos/lookup``. The one difference is how the
caller is known: the till's session cookie (``wallet.auth.till_sessions``) instead of a
bearer key, and, for every write, an ``X-CSRF-Token`` header bound to that session.

These routes serve the till's own page, so they are left out of the API's manual.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody, Parameter

from wallet import clock, db
from wallet.auth import till_sessions
from wallet.errors import Forbidden, Unauthorized
from wallet.http import principal
from wallet.members import service as members
from wallet.receipts import service, spend_codes
from wallet.receipts.schemas import (
    CardStatusOut,
    QuoteIn,
    QuoteOut,
    ReceiptIn,
    ReceiptOut,
    ReceiptReturnIn,
    ReturnOut,
    SpendCodeIn,
    SpendCodeSent,
)
from wallet.signin import lookup
from wallet.web import csrf, sessions

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD")
# What a scanner or a cashier gives: a card number (16 digits, spaces allowed) or a phone
# typed any way; at most what a phone field takes.
QUERY_MAX = 40
CARD_TYPED = re.compile(r"^[0-9 ]{16,19}$")


def store_of(request: Request[Any, Any, Any]) -> int:
    """The till key's store, as the POS API asks it for every write."""
    who = principal(request)
    if who.store_id is None:
        raise Forbidden("this till key is not bound to a store; create it with --store CODE")
    return who.store_id


async def till_session(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The till key behind the session cookie; writes must carry the session's CSRF
    token. Sets ``connection.state.principal`` as the bearer-key guard does, so the POS
    service calls below see the same caller."""
    if not isinstance(connection, Request):  # the till's routes are all HTTP
        raise Unauthorized("the till answers HTTP requests only")
    token = sessions.TILL.token(connection)
    found = await till_sessions.session(token, now=clock.now())
    if found is None:
        raise Unauthorized("the till session has ended; sign in again at /till")
    if connection.method not in SAFE_METHODS and not csrf.valid(
        csrf.till_binding(token), connection.headers.get(CSRF_HEADER)
    ):
        raise Forbidden("the request came without this session's X-CSRF-Token")
    connection.state.principal = found


class TillShopper(msgspec.Struct, frozen=True):
    """The shopper as the till shows them: the POS identify reply (``card``; its
    ``card_number`` is what quotes and receipts name, and may be an opaque reference when
    the shopper was found by phone), their name, and how they were found."""

    card: CardStatusOut
    name: str
    found_by: str


class TillApiController(Controller):
    path = "/till/api"
    include_in_schema = False
    guards = [till_session]

    @get("/shopper")
    async def shopper(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str, Parameter(min_length=1, max_length=QUERY_MAX)],
    ) -> TillShopper:
        """A card number (typed or scanned) is identified as ``GET /api/v1/pos/cards/{n}``;
        anything else is taken for a phone, as ``GET /api/v1/pos/lookup``."""
        now = clock.now()
        typed = q.strip()
        if CARD_TYPED.match(typed):
            card = await spend_codes.identify(typed.replace(" ", ""), now=now)
            found_by = "card"
        else:
            card = await lookup.find_by_phone(typed, key_id=principal(request).key_id, now=now)
            found_by = "phone"
        holder = await members.member_of_account(card.account_id)
        return TillShopper(card=card, name=(holder or {}).get("name") or "", found_by=found_by)

    @post("/quotes", status_code=200)
    async def quote(self, request: Request[Any, Any, Any], data: JSONBody[QuoteIn]) -> QuoteOut:
        return await spend_codes.quote(data, store_id=principal(request).store_id, now=clock.now())

    @post("/receipts", status_code=201)
    async def post_receipt(
        self, request: Request[Any, Any, Any], data: JSONBody[ReceiptIn]
    ) -> ReceiptOut:
        return await spend_codes.post_receipt(
            data, store_id=store_of(request), actor=principal(request).actor, now=clock.now()
        )

    @post("/returns", status_code=201)
    async def post_return(
        self, request: Request[Any, Any, Any], data: JSONBody[ReceiptReturnIn]
    ) -> ReturnOut:
        return await service.post_return(
            data.receipt_id,
            data.as_return(),
            store_id=store_of(request),
            actor=principal(request).actor,
            now=clock.now(),
        )

    @post("/spend-codes", status_code=202)
    async def spend_code(
        self, request: Request[Any, Any, Any], data: JSONBody[SpendCodeIn]
    ) -> SpendCodeSent:
        """As ``POST /api/v1/pos/spend-codes``: the shopper is texted the code."""
        now = clock.now()
        found = spend_codes.Resolved(data.card_number, now=now)
        async with db.write_transaction():
            await spend_codes.ask(found.number, now=now)
        return SpendCodeSent()
