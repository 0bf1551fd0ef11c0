"""Marketers' campaigns (admin API) and the public unsubscribe link."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post, put
from litestar.enums import MediaType, RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath, FromQuery, JSONBody

from wallet import clock, db
from wallet.auth.guards import allow
from wallet.campaigns import automatic, pages, rendering, service
from wallet.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPreview,
    ScheduleIn,
    TestSendIn,
    TestSendOut,
)
from wallet.errors import DomainError
from wallet.http import errors, principal
from wallet.inputs import PathId

# A misspelt kind is the caller's mistake (400), not an empty list that looks like "none yet".
CampaignKind = Literal["manual", "welcome", "birthday"]


class CampaignsController(Controller):
    path = "/api/v1/admin/campaigns"
    tags = ["marketer: campaigns"]
    guards = [allow("marketer", "admin")]

    @get(
        "/",
        operation_id="listCampaigns",
        summary="Campaigns with their figures",
        responses=errors(),
    )
    async def list_campaigns(
        self, kind: FromQuery[CampaignKind | None] = None
    ) -> list[CampaignOut]:
        return await service.list_campaigns(kind=kind)

    @post(
        "/",
        operation_id="createCampaign",
        summary="Create a draft campaign",
        responses=errors(404, 422),
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[CampaignIn]
    ) -> CampaignOut:
        async with db.write_transaction():
            return await service.create_campaign(
                data, actor=principal(request).actor, now=clock.now()
            )

    @get(
        "/{campaign_id:int}",
        operation_id="getCampaign",
        summary="A campaign and its figures: targeted, sent, failed, skipped, unsubscribed",
        responses=errors(404),
    )
    async def get_one(self, campaign_id: PathId) -> CampaignOut:
        return await service.get_campaign(campaign_id)

    @put(
        "/{campaign_id:int}",
        operation_id="updateCampaign",
        summary="Change a draft or scheduled campaign",
        responses=errors(404, 409, 422),
    )
    async def update(self, campaign_id: PathId, data: JSONBody[CampaignIn]) -> CampaignOut:
        async with db.write_transaction():
            return await service.update_campaign(campaign_id, data, now=clock.now())

    @get(
        "/{campaign_id:int}/preview",
        operation_id="previewCampaign",
        summary="The audience count and the email and pass message its first shopper gets",
        responses=errors(404, 422),
    )
    async def preview(self, campaign_id: PathId) -> CampaignPreview:
        return await service.preview(campaign_id, now=clock.now())

    @post(
        "/{campaign_id:int}/schedule",
        operation_id="scheduleCampaign",
        summary="Send at a time (no offset = the program's time zone); a past time is refused",
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def schedule(
        self,
        request: Request[Any, Any, Any],
        campaign_id: PathId,
        data: JSONBody[ScheduleIn],
    ) -> CampaignOut:
        async with db.write_transaction():
            return await service.schedule(
                campaign_id, data.at, actor=principal(request).actor, now=clock.now()
            )

    @post(
        "/{campaign_id:int}/send",
        operation_id="sendCampaignNow",
        summary="Send now",
        status_code=200,
        responses=errors(404, 409),
    )
    async def send_now(self, request: Request[Any, Any, Any], campaign_id: PathId) -> CampaignOut:
        now = clock.now()
        async with db.write_transaction():
            return await service.send_now(campaign_id, actor=principal(request).actor, now=now)

    @post(
        "/{campaign_id:int}/cancel",
        operation_id="cancelCampaign",
        summary="Stop a scheduled or sending campaign; what is not yet sent is cancelled",
        status_code=200,
        responses=errors(404, 409),
    )
    async def cancel(self, request: Request[Any, Any, Any], campaign_id: PathId) -> CampaignOut:
        async with db.write_transaction():
            return await service.cancel(
                campaign_id, actor=principal(request).actor, now=clock.now()
            )

    @post(
        "/{campaign_id:int}/copy",
        operation_id="copyCampaign",
        summary="A new draft with this campaign's audience, channels and texts",
        status_code=201,
        responses=errors(404),
    )
    async def copy(self, request: Request[Any, Any, Any], campaign_id: PathId) -> CampaignOut:
        async with db.write_transaction():
            return await service.copy_campaign(
                campaign_id, actor=principal(request).actor, now=clock.now()
            )

    @post(
        "/automatic/{kind:str}",
        operation_id="enableAutomaticMessage",
        summary="Switch an automatic message on (welcome, birthday); cancel switches it off",
        status_code=200,
        responses=errors(422),
    )
    async def enable_automatic(
        self, request: Request[Any, Any, Any], kind: FromPath[str]
    ) -> CampaignOut:
        async with db.write_transaction():
            return await automatic.enable(kind, actor=principal(request).actor, now=clock.now())

    @post(
        "/{campaign_id:int}/test",
        operation_id="testSendCampaign",
        summary="Send the message now to one address or card (not counted)",
        status_code=200,
        responses=errors(404, 422),
    )
    async def test_send(
        self,
        request: Request[Any, Any, Any],
        campaign_id: PathId,
        data: JSONBody[TestSendIn],
    ) -> TestSendOut:
        sent = await service.test_send(
            campaign_id,
            email=data.email,
            card_number=data.card_number,
            actor=principal(request).actor,
            now=clock.now(),
        )
        return TestSendOut(sent=sent)


# The link is opened by a person in a browser: a bad or stale token gets a page, not JSON.
UNSUBSCRIBE_REFUSED = {
    400: ResponseSpec(
        str, media_type=MediaType.HTML, description="The link is damaged or not ours (a page)"
    )
}


class UnsubscribeController(Controller):
    """The link in every campaign email. GET shows a button (mail scanners follow links,
    so a GET changes nothing); POST unsubscribes, also as RFC 8058 one-click."""

    path = "/unsubscribe"
    tags = ["shopper"]
    security = []

    @get(
        "/",
        operation_id="unsubscribePage",
        summary="Confirm unsubscribing from email",
        media_type=MediaType.HTML,
        responses=UNSUBSCRIBE_REFUSED,
    )
    async def page(self, token: FromQuery[str] = "") -> Response[str]:
        try:
            rendering.read_unsubscribe_token(token)
        except DomainError:
            return pages.html("unsubscribe.html", {"state": "bad"}, status_code=400)
        return pages.html("unsubscribe.html", {"state": "ask", "token": token})

    @post(
        "/",
        operation_id="unsubscribe",
        summary="Stop marketing email (one click)",
        status_code=200,
        media_type=MediaType.HTML,
        responses=UNSUBSCRIBE_REFUSED,
    )
    async def unsubscribe(
        self,
        data: Annotated[
            dict[str, str] | None, Body(media_type=RequestEncodingType.URL_ENCODED)
        ] = None,
        token: FromQuery[str] = "",
    ) -> Response[str]:
        token = token or (data or {}).get("token", "")
        try:
            member = await service.unsubscribe(token, now=clock.now())
        except DomainError:
            return pages.html("unsubscribe.html", {"state": "bad"}, status_code=400)
        return pages.html("unsubscribe.html", {"state": "done" if member else "test"})
