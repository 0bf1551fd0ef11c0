"""The web till at ``/till``: a tablet or phone at the counter of a shop with no integrated
register.

Staff sign in once with a till key (``wallet.auth.till_sessions``: the browser keeps only
a session token), then the page's script (``static/till.js``) finds the shopper by a scan
or a typed phone or card number, quotes the receipt, posts it, shows and prints the
result, and returns receipts, all through ``/till/api`` (``wallet.till.api``).

The page runs our own script, so it has a policy of its own: scripts from this site only
(the barcode decoder is vendored, never a CDN), the camera for this site only.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect

from wallet import clock, db
from wallet.auth import till_sessions
from wallet.errors import Unauthorized
from wallet.pages import i18n
from wallet.rules import service as rules
from wallet.stores import service as stores
from wallet.till import text
from wallet.web import csrf, responses, sessions, templates

STATIC = Path(__file__).resolve().parent / "static"
# name in the URL -> (file, media type); nothing else is served.
ASSETS = {
    "till.js": ("till.js", "text/javascript"),
    "till.css": ("till.css", "text/css"),
    # @zxing/library 0.23.0 (Apache-2.0, static/zxing/LICENSE), its UMD build unchanged:
    # the decoder for browsers without BarcodeDetector (Firefox, Safari, most desktops).
    "zxing.js": ("zxing/zxing-library-0.23.0.min.js", "text/javascript"),
}
TILL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# The one surface that may use the camera, and only for this site.
TILL_PERMISSIONS = (
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)
HEADERS = {
    "Content-Security-Policy": TILL_CSP,
    "Permissions-Policy": TILL_PERMISSIONS,
    "Referrer-Policy": "no-referrer",
}
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
# Offered in the line's category field; any other category may be typed.
COMMON_CATEGORIES = ("grocery", "other")


def _lang(request: Request[Any, Any, Any]) -> text.Lang:
    return i18n.choose(request.headers.get("accept-language"))


def _browser_id(request: Request[Any, Any, Any]) -> tuple[str, bool]:
    """The browser's random id the sign-in form's CSRF token is bound to, and whether it
    is new (to be set as a cookie)."""
    found = sessions.BROWSER.token(request)
    if 32 <= len(found) <= 100:
        return found, False
    return secrets.token_urlsafe(32), True


def _login(
    request: Request[Any, Any, Any], *, error: str = "", status_code: int = 200
) -> Response[str]:
    lang = _lang(request)
    browser_id, new = _browser_id(request)
    binding = csrf.page_binding(session_token=None, browser_id=browser_id)
    words = text.table(lang)
    body = templates.render(
        "till/login.html",
        {"lang": lang, "t": words, "error": words.get(error, ""), "csrf": csrf.token(binding)},
    )
    response = responses.html(body, status_code=status_code, headers=HEADERS)
    if new:
        sessions.BROWSER.set(response, request, browser_id)
    return response


def _go(url: str) -> Response[Any]:
    return responses.protect(Redirect(url, status_code=303), HEADERS)


class TillPagesController(Controller):
    path = "/till"
    include_in_schema = False

    @get("/")
    async def till(self, request: Request[Any, Any, Any]) -> Response[Any]:
        token = sessions.TILL.token(request)
        now = clock.now()
        found = await till_sessions.session(token, now=now)
        if found is None or found.store_id is None:
            return _login(request)
        lang = _lang(request)
        store = await stores.get_store_by_id(found.store_id)
        current = await rules.rules_at(now)
        categories = sorted(
            {*COMMON_CATEGORIES, *current.no_earn_categories, *current.no_redeem_categories}
        )
        body = templates.render(
            "till/till.html",
            {
                "lang": lang,
                "t": text.table(lang),
                "words": json.dumps(text.table(lang), ensure_ascii=False),
                "csrf": csrf.token(csrf.till_binding(token)),
                "store": store,
                "key_name": found.name,
                "categories": categories,
            },
        )
        return responses.html(body, headers=HEADERS)

    @post("/login", status_code=200)
    async def login(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        browser_id = sessions.BROWSER.token(request)
        binding = csrf.page_binding(session_token=None, browser_id=browser_id)
        if not csrf.valid(binding, data.get("csrf")):
            return _login(request, error="login.stale", status_code=403)
        key = data.get("key", "").strip()
        try:
            async with db.write_transaction():
                _found, token = await till_sessions.open_session(key, now=clock.now())
        except Unauthorized:
            return _login(request, error="login.wrong", status_code=401)
        except till_sessions.NotATillKey:
            return _login(request, error="login.not_till", status_code=403)
        except till_sessions.TillKeyWithoutStore:
            return _login(request, error="login.no_store", status_code=403)
        response = _go("/till")
        sessions.TILL.set(response, request, token)
        return response

    @post("/logout", status_code=200)
    async def logout(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        token = sessions.TILL.token(request)
        if csrf.valid(csrf.till_binding(token), data.get("csrf")):
            async with db.write_transaction():
                await till_sessions.close_session(token, now=clock.now())
        response = _go("/till")
        sessions.TILL.clear(response, request)
        return response

    @get("/assets/{name:str}")
    async def asset(self, name: FromPath[str]) -> Response[bytes]:
        if name not in ASSETS:
            return Response(b"", status_code=404, media_type="text/plain")
        file, media_type = ASSETS[name]
        return Response(
            (STATIC / file).read_bytes(),
            media_type=media_type,
            headers={"Cache-Control": "no-cache"},
        )
