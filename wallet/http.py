"""Small pieces every controller uses: the caller, idempotent writes, OpenAPI error docs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import Message, Scope

from wallet import codes, db
from wallet.auth.service import Principal
from wallet.errors import ErrorReply
from wallet.platform import service as platform

T = TypeVar("T")


# Pages: inline CSS (style blocks and attributes) and inline SVG, no script at all, forms
# post only here, nobody may frame them.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# JSON, images, passes: nothing in them may load or run anything.
OTHER_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)


async def security_headers(message: Message, scope: Scope) -> None:
    """Add the browser-facing safety headers to every reply (errors and 404s too), unless
    the route set its own (the manual's viewer has a policy of its own)."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    if "content-security-policy" not in headers:
        if scope["path"].startswith("/schema"):
            from wallet.openapi import DOCS_CSP

            policy = DOCS_CSP
        elif headers.get("content-type", "").startswith("text/html"):
            policy = PAGE_CSP
        else:
            policy = OTHER_CSP
        headers["Content-Security-Policy"] = policy
    for name, value in (
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Referrer-Policy", "same-origin"),
    ):
        if name.lower() not in headers:
            headers[name] = value


def principal(request: Request[Any, Any, Any]) -> Principal:
    """The authenticated caller (set by the route's guard)."""
    value: Principal = request.state.principal
    return value


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """Document the error replies a route may give, all shaped as ``ErrorReply``. The
    replies every route of its kind gives (401/403 from its guard, 400 for its parameters,
    404 for its path) are added by ``wallet.openapi``; list here what the route adds."""
    text = {
        400: "The body or a parameter is malformed (code invalid_request).",
        401: "Missing, unknown or revoked credentials (code unauthorized).",
        403: "The key's role may not call this route (code forbidden).",
        404: "The card, receipt, account or store does not exist.",
        409: "The same id or Idempotency-Key was used with a different body.",
        422: "Well-formed but refused by a business rule; details say why.",
        429: "Asked too often; wait and retry.",
    }
    return {
        status: ResponseSpec(data_container=ErrorReply, description=text.get(status, "Error"))
        for status in statuses
    }


async def idempotent(
    request: Request[Any, Any, Any],
    *,
    scope: str,
    body: msgspec.Struct,
    status_code: int,
    write: Callable[[], Awaitable[T]],
    reply_type: type[T],
) -> T:
    """Run ``write`` once per ``Idempotency-Key`` (when the caller sends one): a retry with
    the same key and body gets the first reply back; with another body, 409."""
    key = request.headers.get("idempotency-key")
    if not key:
        async with db.write_transaction():
            return await write()
    request_hash = codes.fingerprint(body)
    for attempt in range(2):
        try:
            async with db.write_transaction():
                earlier = await platform.recall_reply(
                    scope=scope, key=key, request_hash=request_hash
                )
                if earlier is not None:
                    return msgspec.convert(earlier[1], reply_type)
                result = await write()
                await platform.remember_reply(
                    scope=scope,
                    key=key,
                    request_hash=request_hash,
                    status_code=status_code,
                    response=msgspec.to_builtins(result),
                )
                return result
        except Exception as exc:
            # Two retries raced; the loser rolls back and finds the winner's reply.
            if attempt == 0 and db.is_unique_violation(exc):
                continue
            raise
    raise AssertionError("unreachable")


def client_ip(request: Request[Any, Any, Any]) -> str:
    """The caller's address as the socket sees it (the per-IP limits count by it)."""
    return request.client.host if request.client else "unknown"
