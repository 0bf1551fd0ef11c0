"""The shopper's own account over the API (/api/v1/me) and support's look at one account:
both answer with the same MeOut, built in ``wallet.shopper.views``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter

from passes import qr
from wallet import clock, db
from wallet.auth import service as auth
from wallet.auth.guards import allow
from wallet.errors import AccountNotFound, CardNotFound, InvalidInput
from wallet.http import errors, principal
from wallet.inputs import PathId, QueryJournalId
from wallet.members import service
from wallet.members.schemas import MeOut, MeUpdate
from wallet.shopper import views


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["shopper"]
    guards = [allow("shopper")]

    @get(
        operation_id="me",
        summary="My balance, pending points, next expiry and cards",
        responses=errors(),
    )
    async def me(self, request: Request[Any, Any, Any]) -> MeOut:
        who = principal(request)
        assert who.account_id is not None and who.member_id is not None
        return await views.me(who.member_id, now=clock.now())

    @patch(
        operation_id="updateMe",
        summary="Change my settings: the language of my emails, my phone, marketing on or off",
        description="Send only what changes. `language` is `ru` or `en`; every email from "
        "now on (cashback outcomes, burn reminders, campaigns) is written in it. `phone` "
        "may be typed any way (`8 (912) 345-67-89`) and is stored in E.164; an invalid "
        "number is 422 naming the field, another member's number 409. `marketing_email` "
        "`marketing_push` and `marketing_sms` switch campaign emails, messages on the card "
        "and marketing SMS on or off "
        "(the way back from an unsubscribe link); each change is kept in the consent trail.",
        responses=errors(400, 409, 422),
    )
    async def update_me(self, request: Request[Any, Any, Any], data: JSONBody[MeUpdate]) -> MeOut:
        who = principal(request)
        assert who.member_id is not None
        consents = {
            "email": data.marketing_email,
            "push": data.marketing_push,
            "sms": data.marketing_sms,
        }
        if (
            data.language is not None
            or data.phone is not None
            or any(value is not None for value in consents.values())
        ):
            async with db.write_transaction():
                if data.language is not None:
                    await service.set_language(who.member_id, data.language)
                if data.phone is not None:
                    await service.set_phone(who.member_id, data.phone, now=clock.now())
                await service.set_marketing_consents(
                    who.member_id, consents, now=clock.now(), source="api"
                )
        return await views.me(who.member_id, now=clock.now())

    @get(
        "/history",
        operation_id="myHistory",
        summary="My point movements with their receipts, newest first",
        description="Pass the reply's next_before as `before` for the next page. Purchases "
        "made in the previous program (brought by the chain's import) are listed among them "
        "by date as kind `imported`; once the movements are all shown, the older ones "
        "follow: pass next_before_imported as `before_imported`.",
        responses=errors(400),
    )
    async def history(
        self,
        request: Request[Any, Any, Any],
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        before: QueryJournalId = None,
        before_imported: QueryJournalId = None,
    ) -> views.HistoryPage:
        who = principal(request)
        assert who.account_id is not None
        return await views.history(
            who.account_id, limit=limit, before=before, before_imported=before_imported
        )

    @post(
        "/signout",
        operation_id="signOut",
        summary="Sign out: the token this request carries stops working",
        status_code=204,
        responses=errors(),
    )
    async def signout(self, request: Request[Any, Any, Any]) -> None:
        header = request.headers.get("authorization", "")
        secret = header.partition(" ")[2].strip()
        async with db.write_transaction():
            await auth.revoke_shopper_token(secret, now=clock.now())

    @get(
        "/cards/{number:str}/qr.png",
        operation_id="myCardQr",
        summary="The QR code of one of my cards, as PNG",
        media_type="image/png",
        responses=errors(404, 422),
    )
    async def qr(self, request: Request[Any, Any, Any], number: FromPath[str]) -> Response[bytes]:
        return await _qr(request, number, "png")

    @get(
        "/cards/{number:str}/qr.svg",
        operation_id="myCardQrSvg",
        summary="The QR code of one of my cards, as SVG",
        media_type="image/svg+xml",
        responses=errors(404, 422),
    )
    async def qr_svg(
        self, request: Request[Any, Any, Any], number: FromPath[str]
    ) -> Response[bytes]:
        return await _qr(request, number, "svg")


async def _qr(request: Request[Any, Any, Any], number: str, kind: str) -> Response[bytes]:
    who = principal(request)
    try:
        card = await service.find_card(number)
    except (InvalidInput, CardNotFound):
        card = None
    if card is None or card.account_id != who.account_id:
        # One reply for an unknown, malformed or another shopper's card: probing numbers
        # tells a shopper nothing about other people's cards.
        raise CardNotFound("you have no card with this number", {"number": number})
    if kind == "png":
        return Response(qr.qr_png(card.number), media_type="image/png")
    return Response(qr.qr_svg(card.number).encode(), media_type="image/svg+xml")


class SupportAccountController(Controller):
    path = "/api/v1/admin"
    tags = ["support: cards and accounts"]
    guards = [allow("support", "admin")]

    @get(
        "/accounts/{account_id:int}",
        operation_id="getAccount",
        summary="An account as support sees it: balance, cards, owner",
        responses=errors(404),
    )
    async def account(self, account_id: PathId) -> MeOut:
        found = await service.member_of_account(account_id)
        if found is None:
            raise AccountNotFound(f"no member account {account_id}")
        return await views.me(found["id"], now=clock.now())
