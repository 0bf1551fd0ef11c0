"""The PassKit web service (Apple's protocol, under ``{WALLET_BASE_URL}/passkit``) and the
shopper's signed pass links.

PassKit routes take ``Authorization: ApplePass <token>``, not a bearer: Wallet sends the
token from the pass. The download links are signed instead, since Safari on an iPhone
opening a .pkpass cannot send any header.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, Parameter, QueryParameter
from litestar.response import Redirect

from wallet import clock
from wallet.errors import InvalidInput
from wallet.http import errors
from wallet.passsync import device_log, google_save, links, webservice
from wallet.passsync.schemas import LogIn, RegistrationIn
from wallet.passsync.view import PASSKIT_PREFIX

PKPASS = "application/vnd.apple.pkpass"
DeviceId = Annotated[str, Parameter(max_length=128, description="deviceLibraryIdentifier")]
PassType = Annotated[str, Parameter(max_length=128, description="passTypeIdentifier")]
Serial = Annotated[str, Parameter(max_length=40, description="the pass's serialNumber")]


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _since(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pkpass(built: webservice.BuiltPass, filename: str) -> Response[bytes]:
    return Response(
        content=built.data,
        media_type=PKPASS,
        headers={
            "Last-Modified": _http_date(built.modified_at),
            "Content-Disposition": f'attachment; filename="{filename}.pkpass"',
            "Cache-Control": "no-store",
        },
    )


class PassKitController(Controller):
    path = PASSKIT_PREFIX + "/v1"
    tags = ["Apple Wallet (PassKit web service)"]
    security = [{}]

    @post(
        "/devices/{device_id:str}/registrations/{pass_type_id:str}/{serial:str}",
        operation_id="passkitRegister",
        summary="A device asks for a pass's updates",
        description="201 when new, 200 when already registered, 401 on a missing or wrong "
        "ApplePass token (checked before anything else).",
        status_code=201,
        responses=errors(401, 404),
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        device_id: DeviceId,
        pass_type_id: PassType,
        serial: Serial,
        data: JSONBody[RegistrationIn],
    ) -> Response[None]:
        created = await webservice.register_device(
            device_id=device_id,
            pass_type_id=pass_type_id,
            serial=serial,
            push_token=data.push_token,
            authorization=request.headers.get("authorization"),
            now=clock.now(),
        )
        return Response(content=None, status_code=201 if created else 200)

    @delete(
        "/devices/{device_id:str}/registrations/{pass_type_id:str}/{serial:str}",
        operation_id="passkitUnregister",
        summary="A device no longer wants a pass's updates (the pass was removed)",
        status_code=200,
        responses=errors(401),
    )
    async def unregister(
        self,
        request: Request[Any, Any, Any],
        device_id: DeviceId,
        pass_type_id: PassType,
        serial: Serial,
    ) -> None:
        await webservice.unregister_device(
            device_id=device_id,
            pass_type_id=pass_type_id,
            serial=serial,
            authorization=request.headers.get("authorization"),
        )

    @get(
        "/devices/{device_id:str}/registrations/{pass_type_id:str}",
        operation_id="passkitUpdatedSerials",
        summary="Which of the device's passes changed since a tag",
        description="200 with every pass of this device changed after `passesUpdatedSince` "
        "(all of them without it, or with a tag this service never gave, which a device "
        "only sends when its copy is damaged); 204 when none changed or the device is unknown.",
        responses={
            204: ResponseSpec(None, description="No pass changed, or the device is unknown")
        },
    )
    async def updated(
        self,
        device_id: DeviceId,
        pass_type_id: PassType,
        passes_updated_since: Annotated[
            str | None, QueryParameter(name="passesUpdatedSince", max_length=40)
        ] = None,
    ) -> Response[Any]:
        found = await webservice.serials_updated_since(
            device_id, pass_type_id, passes_updated_since
        )
        if found is None:
            return Response(content=None, status_code=204)
        return Response(content=found, status_code=200)

    @get(
        "/passes/{pass_type_id:str}/{serial:str}",
        operation_id="passkitLatestPass",
        summary="The latest version of a pass",
        description="200 with the signed pass and Last-Modified; 304 when If-Modified-Since is "
        "not older than the last change; 401 on a wrong token.",
        media_type=PKPASS,
        responses=errors(401, 404),
    )
    async def latest(
        self, request: Request[Any, Any, Any], pass_type_id: PassType, serial: Serial
    ) -> Response[Any]:
        built = await webservice.latest_pass(
            pass_type_id,
            serial,
            authorization=request.headers.get("authorization"),
            if_modified_since=_since(request.headers.get("if-modified-since")),
            now=clock.now(),
        )
        if built is None:
            return Response(content=b"", status_code=304, media_type=PKPASS)
        return _pkpass(built, serial)

    @post(
        "/log",
        operation_id="passkitLog",
        summary="Wallet reports problems it met with our web service",
        description="Always 200 for a well-formed body, as Apple's protocol expects: lines "
        "beyond 10 a request or the per-address and per-minute limits are dropped silently.",
        status_code=200,
        responses={},
        request_max_body_size=64 * 1024,
    )
    async def device_log(self, request: Request[Any, Any, Any], data: JSONBody[LogIn]) -> None:
        device_log.write(
            data.logs,
            address=request.client.host if request.client else "?",
            agent=request.headers.get("user-agent", "?"),
        )


class PassLinksController(Controller):
    path = "/passes"
    tags = ["shopper"]
    security = [{}]

    @get(
        "/{name:str}",
        operation_id="downloadApplePass",
        summary="My card as an Apple Wallet pass (signed link from enrolment or /me)",
        media_type=PKPASS,
        responses=errors(400, 401, 404, 422),
    )
    async def apple(
        self,
        name: Annotated[str, Parameter(max_length=40)],
        expires: FromQuery[int],
        sig: Annotated[str, Parameter(max_length=100)],
    ) -> Response[bytes]:
        if not name.endswith(".pkpass"):
            raise InvalidInput("ask for <card number>.pkpass", {"name": name})
        number = name.removesuffix(".pkpass")
        now = clock.now()
        links.check_link(f"/passes/{number}.pkpass", number, expires=expires, sig=sig, now=now)
        built = await webservice.download_pass(number, now=now)
        return _pkpass(built, number)

    @get(
        "/{number:str}/google",
        operation_id="saveToGoogleWallet",
        summary="Save my card to Google Wallet (signed link from enrolment or /me)",
        description="Records the save, inserts the object through the Google Wallet API and "
        "redirects to Google with a link carrying its id (a trimmed object when the API "
        "cannot be reached).",
        status_code=302,
        responses=errors(401, 404),
    )
    async def google(
        self,
        number: Annotated[str, Parameter(max_length=20)],
        expires: FromQuery[int],
        sig: Annotated[str, Parameter(max_length=100)],
    ) -> Redirect:
        now = clock.now()
        links.check_link(f"/passes/{number}/google", number, expires=expires, sig=sig, now=now)
        return Redirect(path=await google_save.save_to_google(number, now=now), status_code=302)
