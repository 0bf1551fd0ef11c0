"""Joining over the API: ``POST /api/v1/cards`` (the ``/join`` page is in pages)."""

from __future__ import annotations

from typing import Any, cast

from litestar import Controller, Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from wallet import clock, db
from wallet.auth import service as auth
from wallet.errors import ErrorReply, Unauthorized
from wallet.http import client_ip, errors, idempotent
from wallet.members.schemas import EnrolIn, EnrolOut, SignInCodeSent
from wallet.shopper import views
from wallet.signin import joining

CODE_SENT = (
    "a member with this email or phone already exists: we sent a sign-in code to the "
    "member's email (valid 10 minutes); sign in with it on /signin"
)


class EnrolController(Controller):
    path = "/api/v1/cards"
    tags = ["shopper"]

    @post(
        operation_id="enrol",
        summary="Join the program and get a virtual card in one step",
        description="Creates the shopper, their account and a virtual card, records the "
        "consents with time and text version, and returns a shopper token (201). "
        "If the email or phone is already a member's, nothing is created or shown: the "
        "member is emailed a sign-in code and the answer is 202 `code_sent` whatever the "
        "member's details. Send an Idempotency-Key header so a retried tap never creates "
        "two shoppers; a retry gets the first answer back with `shopper_token` null (a "
        "replay never hands out a credential). Anonymous calls are limited per client IP "
        "(WALLET_ENROL_LIMIT_PER_IP an hour) and per email and phone (5 an hour): 429 with "
        "Retry-After. A till may enrol with its key (Bearer), which lifts the per-IP limit.",
        status_code=201,
        responses={
            **errors(400, 404, 409, 422),
            202: ResponseSpec(
                data_container=SignInCodeSent,
                description="The contact is already a member: a sign-in code was emailed.",
            ),
            401: ResponseSpec(
                data_container=ErrorReply,
                description="A bearer key was sent but is unknown or revoked.",
            ),
            429: ResponseSpec(
                data_container=ErrorReply,
                description="Too many enrolments from this address or with this contact "
                "(code too_many_attempts, header Retry-After).",
            ),
        },
        security=[],
    )
    async def enrol(
        self, request: Request[Any, Any, Any], data: JSONBody[EnrolIn]
    ) -> Response[EnrolOut]:
        now = clock.now()
        ip = None if await _till_key(request) else client_ip(request)
        outcome: joining.Outcome | None = None

        async def write() -> joining.Joined:
            nonlocal outcome
            outcome = await joining.join(data, ip=ip, now=now)
            return outcome.joined

        joined = await idempotent(
            request,
            scope="enrol",
            body=data,
            status_code=201,
            write=write,
            reply_type=joining.Joined,
        )
        if joined.code_sent:
            if outcome is not None:
                await joining.mail_code(outcome, lang=data.language)
            sent = SignInCodeSent(status="code_sent", message=CODE_SENT, email=joined.sent_to)
            return cast(Response[EnrolOut], Response(sent, status_code=202))
        assert joined.card_number is not None and joined.account_id is not None
        assert joined.member_id is not None
        token = None
        if outcome is not None:  # this request enrolled; a replay (outcome None) gets none
            async with db.write_transaction():
                token = await auth.issue_shopper_token(joined.member_id, now=now)
        reply = EnrolOut(
            card_number=joined.card_number,
            account_id=joined.account_id,
            shopper_token=token,
            links=views.links(joined.card_number),
        )
        return Response(reply, status_code=201)


async def _till_key(request: Request[Any, Any, Any]) -> bool:
    """Whether a till enrols with its key (exempt from the per-IP limit). A key that is
    sent must be valid: a wrong one is refused rather than silently treated as anonymous."""
    header = request.headers.get("authorization", "")
    if not header:
        return False
    scheme, _sep, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send Authorization: Bearer <till key>, or no Authorization")
    return (await auth.authenticate(secret.strip())).role == "pos"
