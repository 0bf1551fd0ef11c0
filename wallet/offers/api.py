"""Cashback offers over HTTP: marketers define them, shoppers opt in and watch progress."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.params import JSONBody

from wallet import clock, db
from wallet.auth.guards import allow
from wallet.http import errors, idempotent, principal
from wallet.inputs import PathId
from wallet.offers import service
from wallet.offers.schemas import MyOffers, OfferChange, OfferIn, OfferOut, Progress


class OffersAdminController(Controller):
    path = "/api/v1/admin/offers"
    tags = ["admin: offers"]
    guards = [allow("marketer", "admin")]

    @post(
        operation_id="createOffer",
        summary="Create a smart-goal cashback offer",
        description="Rate in basis points (200 = 2%), monthly cap in points, validity of "
        "the reward points in months, the categories that count, the goal policy and who "
        "may opt in: card levels (`eligible_tiers`) and groups (`eligible_segment_ids`, saved "
        "segments: the shopper must be in one of them when opting in); both empty = "
        "everyone, both set = both must hold, an unknown segment id is refused (404 "
        "segment_not_found). The reply lists running offers the same shoppers could hold "
        "(`overlaps_with`; offers for groups count as overlapping unless their card levels "
        "differ): a shopper holds one offer a month, so opting in to a second is refused. "
        "Send an Idempotency-Key so a retry creates one.",
        status_code=201,
        responses=errors(400, 404, 409, 422),
    )
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[OfferIn]) -> OfferOut:
        who = principal(request)

        async def write() -> OfferOut:
            return await service.create_offer(data, actor=who.actor, now=clock.now())

        return await idempotent(
            request,
            scope="offer.create",
            body=data,
            status_code=201,
            write=write,
            reply_type=OfferOut,
        )

    @get(operation_id="listOffers", summary="Every offer, running or ended", responses=errors())
    async def list_offers(self) -> list[OfferOut]:
        return await service.list_offers()

    @get(
        "/{offer_id:int}",
        operation_id="getOffer",
        summary="One offer",
        responses=errors(404),
    )
    async def get_offer(self, offer_id: PathId) -> OfferOut:
        return await service.get_offer(offer_id)

    @patch(
        "/{offer_id:int}",
        operation_id="changeOffer",
        summary="Change an offer; goals already shown keep their month",
        responses=errors(400, 404, 409, 422),
    )
    async def change(
        self, request: Request[Any, Any, Any], offer_id: PathId, data: JSONBody[OfferChange]
    ) -> OfferOut:
        who = principal(request)
        async with db.write_transaction():
            return await service.change_offer(offer_id, data, actor=who.actor, now=clock.now())

    @post(
        "/{offer_id:int}/end",
        operation_id="endOffer",
        summary="End an offer: no new opt-ins; months under way are still settled",
        status_code=200,
        responses=errors(404),
    )
    async def end(self, request: Request[Any, Any, Any], offer_id: PathId) -> OfferOut:
        who = principal(request)
        async with db.write_transaction():
            return await service.end_offer(offer_id, actor=who.actor, now=clock.now())


class MyOffersController(Controller):
    path = "/api/v1/me/offers"
    tags = ["shopper"]
    guards = [allow("shopper")]

    @get(
        operation_id="myOffers",
        summary="Offers I can take, and my status in each",
        responses=errors(),
    )
    async def my_offers(self, request: Request[Any, Any, Any]) -> MyOffers:
        who = principal(request)
        assert who.account_id is not None
        return await service.my_offers(who.account_id, now=clock.now())

    @post(
        "/{offer_id:int}/opt-in",
        operation_id="optIn",
        summary='"I want cashback": opt in and get this month\'s personal goal',
        description="Idempotent: opting in again returns the same goal. The goal is made "
        "from the account's own spend (all its cards) and fixed for the month; "
        "`explanation` says how. Opting in mid-month counts the whole calendar month "
        "unless the offer says otherwise.",
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def opt_in(self, request: Request[Any, Any, Any], offer_id: PathId) -> Progress:
        who = principal(request)
        assert who.account_id is not None
        async with db.write_transaction():
            return await service.opt_in(offer_id, account_id=who.account_id, now=clock.now())

    @post(
        "/{offer_id:int}/opt-out",
        operation_id="optOut",
        summary="Stop taking part from next month; this month is still settled",
        status_code=204,
        responses=errors(404),
    )
    async def opt_out(self, request: Request[Any, Any, Any], offer_id: PathId) -> None:
        who = principal(request)
        assert who.account_id is not None
        async with db.write_transaction():
            await service.opt_out(offer_id, account_id=who.account_id, now=clock.now())

    @get(
        "/{offer_id:int}/progress",
        operation_id="myProgress",
        summary="My goal, spend so far, what is left, days left, the reward if the month ended now",
        responses=errors(404),
    )
    async def progress(self, request: Request[Any, Any, Any], offer_id: PathId) -> Progress:
        who = principal(request)
        assert who.account_id is not None
        return await service.progress(offer_id, account_id=who.account_id, now=clock.now())
