"""Data rights over HTTP: the shopper's export and erasure (``/api/v1/me/...``), and
support's export, erasure, search and access trail (``/api/v1/admin/...``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, cast

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter

from wallet import clock, db
from wallet.auth.guards import allow
from wallet.errors import InvalidInput
from wallet.http import errors, principal
from wallet.inputs import PathId
from wallet.privacy import service
from wallet.privacy.schemas import (
    AccessEvent,
    CodeSent,
    Erased,
    EraseIn,
    Export,
    SearchOut,
    SupportEraseIn,
    Timeline,
)

log = logging.getLogger("wallet.privacy")

ReasonQuery = Annotated[
    str,
    Parameter(
        min_length=1,
        max_length=500,
        description="Why support looks at this person's data (kept in the access trail)",
    ),
]


class MyDataController(Controller):
    path = "/api/v1/me"
    tags = ["shopper"]
    guards = [allow("shopper")]

    @get(
        "/export",
        operation_id="exportMyData",
        summary="Everything we hold about me, as JSON (152-FZ)",
        description="Profile, consents with their text versions and times, cards, point "
        "movements, receipts with their lines, offers and goals, the messages sent to me "
        "(channel, time, the consent that allowed each) and the devices that registered my "
        "pass.",
        responses=errors(),
    )
    async def export(self, request: Request[Any, Any, Any]) -> Response[Export]:
        who = principal(request)
        assert who.member_id is not None
        data = await service.export(who.member_id, now=clock.now())
        return Response(
            data, headers={"Content-Disposition": 'attachment; filename="my-data.json"'}
        )

    @post(
        "/erase",
        operation_id="eraseMe",
        summary="Erase me: without a code, email me one; with it, erase for good",
        description="Step 1: `{}` emails a confirmation code to my address (202). Step 2: "
        '`{"code": "123456"}` erases my name, email, phone and birthday, withdraws every '
        "consent, blocks my cards and voids my passes, and signs me out everywhere (200). "
        "It cannot be undone; my points are lost. A wrong code is 422 `wrong_code`; a "
        "shopper without an email asks support (409).",
        status_code=200,
        responses={
            **errors(409, 422, 429),
            202: ResponseSpec(data_container=CodeSent, description="A code was emailed."),
        },
    )
    async def erase(
        self, request: Request[Any, Any, Any], data: JSONBody[EraseIn]
    ) -> Response[Erased]:
        who = principal(request)
        assert who.member_id is not None
        now = clock.now()
        if data.code is None:
            async with db.write_transaction():
                email, code = await service.request_erase_code(who.member_id, now=now)
            await mail_erase_code(email, code, who.member_id)
            sent = CodeSent(status="code_sent", email=email)
            return cast(Response[Erased], Response(sent, status_code=202))
        erased = await service.confirm_and_erase(who.member_id, code=data.code, now=now)
        return Response(erased)


async def mail_erase_code(email: str, code: str, member_id: int) -> None:
    # Sent at once, not through the outbox: the outbox would keep the code in its payload.
    from wallet.mail import service as mail
    from wallet.members import privacy as members

    lang = (await members.profile(member_id)).language
    try:
        await mail.send_now(to=email, template="erase_code", lang=lang, context={"code": code})
    except Exception:
        log.exception("could not send an erasure code to member %d", member_id)


class SupportPrivacyController(Controller):
    path = "/api/v1/admin"
    tags = ["support: cards and accounts"]
    guards = [allow("support", "admin")]

    @get(
        "/members/{member_id:int}/export",
        operation_id="exportMemberData",
        summary="A shopper's data export, for a request received by post (audited)",
        responses=errors(404),
    )
    async def export(
        self, request: Request[Any, Any, Any], member_id: PathId, reason: ReasonQuery
    ) -> Export:
        who = principal(request)
        return await service.support_export(
            member_id, actor=who.actor, reason=reason, now=clock.now()
        )

    @post(
        "/members/{member_id:int}/erase",
        operation_id="eraseMember",
        summary="Erase a shopper on their request (audited, irreversible, idempotent)",
        description="Asking again answers the same and changes nothing.",
        status_code=200,
        responses=errors(404),
    )
    async def erase(
        self, request: Request[Any, Any, Any], member_id: PathId, data: JSONBody[SupportEraseIn]
    ) -> Erased:
        who = principal(request)
        return await service.erase(
            member_id, actor=who.actor, source="support", reason=data.reason, now=clock.now()
        )

    @get(
        "/members/search",
        operation_id="searchMembers",
        summary="Find a shopper by phone (any format), email, card number or part of a name",
        description="Up to 20 members; erased members are never found. Recorded in the "
        "access trail with the reason.",
        responses=errors(),
    )
    async def search(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str, Parameter(min_length=1, max_length=200)],
        reason: ReasonQuery,
    ) -> SearchOut:
        who = principal(request)
        return SearchOut(members=await service.search(q, actor=who.actor, reason=reason))

    @get(
        "/members/{member_id:int}/timeline",
        operation_id="memberTimeline",
        summary="A shopper's timeline: joining, receipts, returns, adjustments, messages, "
        "passes and consent changes, newest first (recorded in the access trail)",
        description="Pages: `limit` events, then ask again with `before` = the last event's "
        "`at` while `more` is true.",
        responses=errors(404, 422),
    )
    async def timeline(
        self,
        request: Request[Any, Any, Any],
        member_id: PathId,
        reason: ReasonQuery,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
        before: Annotated[
            datetime | None,
            Parameter(description="Only events before this moment (with its UTC offset)"),
        ] = None,
    ) -> Timeline:
        who = principal(request)
        if before is not None and before.tzinfo is None:
            raise InvalidInput(
                "before needs a UTC offset (e.g. 2026-01-10T09:00:00+03:00)",
                {"before": before.isoformat()},
            )
        return await service.support_timeline(
            member_id,
            actor=who.actor,
            reason=reason,
            limit=limit,
            before=before,
            now=clock.now(),
        )

    @get(
        "/privacy/access-log",
        operation_id="privacyAccessLog",
        summary="Who looked at whose personal data, when and why (newest first)",
        responses=errors(),
    )
    async def access_log(
        self,
        member_id: Annotated[int | None, Parameter(ge=1)] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
        before: Annotated[int | None, Parameter(ge=1)] = None,
    ) -> list[AccessEvent]:
        return await service.access_log(member_id=member_id, limit=limit, before_id=before)
