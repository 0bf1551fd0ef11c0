"""Joining over the API: ``POST /api/v1/cards`` (the ``/join`` page is in pages)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal, cast

import msgspec
from litestar import Controller, Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from wallet import clock, db, phones
from wallet.auth import service as auth
from wallet.errors import ErrorReply, InvalidInput, Unauthorized
from wallet.http import client_ip, errors, idempotent
from wallet.members import service as members
from wallet.members.schemas import Email, EnrolIn, EnrolOut, Language, Phone, SignInCodeSent
from wallet.shopper import views
from wallet.signin import joining
from wallet.signin import service as signin

log = logging.getLogger(__name__)
SixDigits = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="six digits")]

CODE_SENT = (
    "a member with this email or phone already exists: we sent a sign-in code to the "
    "member's email, or by SMS to the phone (valid 10 minutes); sign in with it on /signin "
    "or exchange it at POST /api/v1/signin/token"
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


class SignInCodeIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where to send a sign-in code: one of an email or a phone (typed any way)."""

    email: Email | None = None
    phone: Phone | None = None
    language: Language = "ru"


class SignInTokenIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: SixDigits
    email: Email | None = None
    phone: Phone | None = None


class CodeAsked(msgspec.Struct, frozen=True):
    status: Literal["code_sent"]
    message: str


class TokenOut(msgspec.Struct, frozen=True):
    shopper_token: str
    account_id: int


def _address(email: str | None, phone: str | None) -> str:
    if (email is None) == (phone is None):
        raise InvalidInput("give either an email or a phone", {"fields": ["email", "phone"]})
    if email is not None:
        return signin.normal_email(email)
    assert phone is not None
    return phones.normalise(phone, field="phone")


ASKED = (
    "if this email or phone belongs to a member, a six-digit code is on its way (valid 10 "
    "minutes, five tries); exchange it at POST /api/v1/signin/token"
)


class SignInController(Controller):
    path = "/api/v1/signin"
    tags = ["shopper"]

    @post(
        "/code",
        operation_id="askSignInCode",
        summary="Send me a sign-in code by email or SMS",
        description="The code goes by email to a member's email or by SMS to a member's phone "
        "(typed any way, read in E.164). The answer is 202 whether or not the address is a "
        "member's, so nobody can probe who is one. Limited per address (3 in 15 minutes) and "
        "per client IP (20 an hour): 429 with Retry-After.",
        status_code=202,
        responses={
            **errors(400, 422),
            429: ResponseSpec(
                data_container=ErrorReply,
                description="Too many codes asked (code too_many_attempts, header Retry-After).",
            ),
        },
        security=[],
    )
    async def ask(self, request: Request[Any, Any, Any], data: JSONBody[SignInCodeIn]) -> CodeAsked:
        address = _address(data.email, data.phone)
        now = clock.now()
        code = None
        async with db.write_transaction():
            if signin.is_phone(address):
                await signin.request_phone_code(
                    phone=address, ip=client_ip(request), now=now, lang=data.language
                )
            else:
                code = await signin.request_code(email=address, ip=client_ip(request), now=now)
        if code is not None:
            from wallet.mail import service as mail

            try:
                await mail.send_now(
                    to=address, template="signin_code", lang=data.language, context={"code": code}
                )
            except Exception:
                log.exception("could not send a sign-in code to %s", address)
        return CodeAsked(status="code_sent", message=ASKED)

    @post(
        "/token",
        operation_id="signInWithCode",
        summary="Exchange a sign-in code for a new shopper token",
        description="The code from POST /api/v1/signin/code, with the same email or phone. A "
        "code signs in once; five wrong tries lock it (422 `wrong_code` with "
        "`details.tries_left`).",
        status_code=200,
        responses=errors(400, 422),
        security=[],
    )
    async def token(self, data: JSONBody[SignInTokenIn]) -> TokenOut:
        address = _address(data.email, data.phone)
        now = clock.now()
        refused: signin.CodeRefused | None = None
        async with db.write_transaction():
            try:
                member_id = await signin.check_code(email=address, code=data.code, now=now)
            except signin.CodeRefused as exc:
                refused = exc  # the try is counted: commit it, then refuse
            else:
                token = await auth.issue_shopper_token(member_id, now=now)
                member = await members.member(member_id)
                return TokenOut(shopper_token=token, account_id=int(member["account_id"]))
        raise refused
