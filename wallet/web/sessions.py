"""One way to keep a signed-in browser: an HttpOnly cookie carrying a token, Secure when
the site is served over HTTPS. Two kinds of principal use it: a shopper's page session
(``wallet.signin`` issues it and keeps only its hash) and a member of staff's key in the
console (``wallet.auth`` checks it on every request, so revoking the key signs them out).
The cookies differ only in name, scope and lifetime; reading, setting and clearing them is
this module's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from litestar import Request, Response

from wallet import settings


def secure(request: Request[Any, Any, Any]) -> bool:
    """Whether cookies get the Secure flag: the request came over HTTPS, or the public
    address is HTTPS (a proxy in front ends TLS and forwards plain HTTP)."""
    return request.url.scheme == "https" or settings.get().base_url.startswith("https:")


@dataclass(frozen=True)
class SessionCookie:
    name: str
    path: str
    samesite: Literal["lax", "strict"]
    # None: the browser keeps it until it closes.
    lifetime: timedelta | None

    def token(self, request: Request[Any, Any, Any]) -> str:
        """The token the browser sent ("" for none)."""
        return request.cookies.get(self.name, "")

    def cookie(
        self, value: str, *, clear: bool = False, lifetime: timedelta | None = None
    ) -> dict[str, Any]:
        """The cookie to set, as ``Response.set_cookie`` keywords (without ``secure``);
        ``lifetime`` is the issuer's when it decides (a shopper session's)."""
        lifetime = lifetime or self.lifetime
        max_age = 0 if clear else (int(lifetime.total_seconds()) if lifetime else None)
        return {
            "key": self.name,
            "value": "" if clear else value,
            "max_age": max_age,
            "path": self.path,
            "httponly": True,
            "samesite": self.samesite,
        }

    def set(
        self,
        response: Response[Any],
        request: Request[Any, Any, Any],
        value: str,
        *,
        lifetime: timedelta | None = None,
    ) -> None:
        response.set_cookie(**self.cookie(value, lifetime=lifetime), secure=secure(request))

    def clear(self, response: Response[Any], request: Request[Any, Any, Any]) -> None:
        response.set_cookie(**self.cookie("", clear=True), secure=secure(request))


# A shopper's page session: a random token, only its SHA-256 stored; wallet.signin says
# how long it lasts.
SHOPPER = SessionCookie("wsession", "/", "lax", None)
# The browser's random id before sign-in, what page forms' CSRF tokens are bound to; not
# itself a credential.
BROWSER = SessionCookie("wcsrf", "/", "lax", None)
# A member of staff in the console: the staff key itself, checked like a bearer key on
# every request; Strict and scoped to /console, so no other page or site ever sends it.
STAFF = SessionCookie("wallet_console", "/console", "strict", timedelta(hours=12))
# The web till (/till): a random token naming a server-side session (wallet.auth keeps the
# till key); Strict and scoped to /till like the console's.
TILL = SessionCookie("wallet_till", "/till", "strict", timedelta(hours=14))


@dataclass(frozen=True)
class StaffSession:
    """A member of staff signed in to the console, as its pages need them: a name and a
    role for the header, ``actor`` for the audit trail, and ``key`` (what the CSRF tokens
    of their forms are bound to). ``wallet.auth.staff`` makes it from the STAFF cookie and
    the app hands it to console controllers as the ``staff`` dependency, so a domain's
    console pages need not import ``wallet.auth``."""

    name: str
    role: str
    actor: str
    key: str
