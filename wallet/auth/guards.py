"""Route guards: ``Authorization: Bearer <key or token>`` and the roles a route allows."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from wallet.auth.service import authenticate
from wallet.errors import Forbidden, Unauthorized

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Coroutine[Any, Any, None]]


def allow(*roles: str) -> Guard:
    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        header = connection.headers.get("authorization", "")
        scheme, _sep, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("send Authorization: Bearer <key or token>")
        principal = await authenticate(secret.strip())
        if principal.role not in roles:
            raise Forbidden(
                f"a {principal.role} key may not do this; allowed: {', '.join(roles)}",
                {"role": principal.role, "allowed": list(roles)},
            )
        connection.state.principal = principal

    guard.__name__ = f"allow_{'_'.join(roles)}"
    # Read by wallet.openapi to document 401/403 and the allowed roles.
    guard.roles = roles  # type: ignore[attr-defined]
    return guard
