"""The pages' side of the web layer (``wallet.web``): the request's language, its shopper
session and CSRF token, the cookies to set, rendering ``templates/pages/``."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, field
from typing import Any

import qrcode
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from markupsafe import Markup
from qrcode.constants import ERROR_CORRECT_M

from passes import barcode
from wallet import clock, errors, settings, words
from wallet.pages import i18n
from wallet.signin import service as pages
from wallet.signin.service import Session
from wallet.web import csrf, responses, sessions, templates

# The pages' own filters on the one environment (``{{ points|num }}``, card numbers).
templates.env.filters["num"] = i18n.number
templates.env.filters["groups"] = i18n.card_groups


@functools.lru_cache(maxsize=4096)
def qr_svg(text: str) -> Markup:
    """The QR of ``text`` as a compact inline SVG: one path, each row's dark runs merged, a
    4-module quiet zone; scaled by CSS, crisp at any size."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return Markup(
        f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" role="img" aria-label="QR {text}">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>'
    )


def card_barcode(number: str) -> Markup:
    """The card's till barcode in the program's format (``WALLET_CARD_BARCODE``): the QR
    above, or a Code 128 / PDF417 drawn by ``passes.barcode``."""
    kind = settings.get().card_barcode
    if kind == "QR":
        return qr_svg(number)
    return _drawn(number, kind)


@functools.lru_cache(maxsize=4096)
def _drawn(number: str, kind: barcode.Kind) -> Markup:
    # About 0.3 ms (Code 128) and 1.3 ms (PDF417) a card, once per card per process.
    return Markup(barcode.svg(number, kind))


@dataclass
class Page:
    """What every page handler needs: language, session, CSRF token, cookies to set."""

    request: Request[Any, Any, Any]
    lang: i18n.Lang
    session: Session | None
    session_token: str
    # What this request's form tokens are bound to (see wallet/web/csrf.py).
    csrf_binding: str
    csrf: str
    cookies: list[dict[str, Any]] = field(default_factory=list)

    def t(self, key: str, **values: object) -> str:
        return i18n.translate(self.lang, key, **values)

    def set_session(self, token: str) -> None:
        self.cookies.append(sessions.SHOPPER.cookie(token, lifetime=pages.SESSION_TTL))

    def clear_session(self) -> None:
        self.cookies.append(sessions.SHOPPER.cookie("", clear=True))

    def _apply(self, response: Response[Any]) -> Response[Any]:
        secure = sessions.secure(self.request)
        for cookie in self.cookies:
            response.set_cookie(**cookie, secure=secure)
        return responses.protect(response)

    def text(self, template: str, **context: Any) -> str:
        return templates.env.get_template(f"pages/{template}").render(
            t=self.t,
            lang=self.lang,
            csrf=self.csrf,
            signed_in=self.session is not None,
            date=functools.partial(i18n.date, self.lang),
            burn_date=functools.partial(i18n.burn_date, self.lang),
            datetime=functools.partial(i18n.datetime_short, self.lang),
            money=functools.partial(i18n.money, self.lang),
            points=functools.partial(words.points, lang=self.lang),
            count=functools.partial(words.count, lang=self.lang),
            path=self.request.url.path,
            **context,
        )

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response[Any]:
        html = self.text(template, **context)
        return self._apply(Response(html, status_code=status, media_type=MediaType.HTML))

    def redirect(self, path: str) -> Response[Any]:
        return self._apply(Redirect(path=path, status_code=303))

    async def form(self) -> dict[str, str] | None:
        """The posted form, or None when its CSRF token does not match the cookie."""
        raw = await self.request.form()
        data = {key: str(value) for key, value in raw.items()}
        if not csrf.valid(self.csrf_binding, data.get("csrf")):
            return None
        return data

    def refused(self) -> Response[Any]:
        return self.render("error.html", status=403, message=self.t("csrf.refused"))


async def page(request: Request[Any, Any, Any]) -> Page:
    lang = i18n.choose(request.headers.get("accept-language"))
    token = sessions.SHOPPER.token(request)
    found = await pages.session(token, now=clock.now()) if token else None
    # The browser's random id, for the forms shown before sign-in; not itself a token.
    browser_id = sessions.BROWSER.token(request)
    cookies: list[dict[str, Any]] = []
    if not 32 <= len(browser_id) <= 100:
        browser_id = secrets.token_urlsafe(32)
        cookies.append(sessions.BROWSER.cookie(browser_id))
    binding = csrf.page_binding(session_token=token if found else None, browser_id=browser_id)
    return Page(
        request=request,
        lang=lang,
        session=found,
        session_token=token,
        csrf_binding=binding,
        csrf=csrf.token(binding),
        cookies=cookies,
    )


# Paths whose callers are programs (tills, wallets, the shopper app): they keep the JSON
# error body their contract lists, whatever their Accept header says.
MACHINE_PATHS = ("/api/", "/v1/", "/passes/", "/schema", "/metrics", "/healthz", "/koshelek/")


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """A browser asking for a page: GET or HEAD, HTML accepted, not a machine path."""
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in request.headers.get("accept", "")
        and not request.url.path.startswith(MACHINE_PATHS)
    )


def not_found_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """A mistyped address in a browser gets a page in the shopper's language with a way
    back, not a JSON error body; everyone else gets the JSON one (``wallet.errors``)."""
    if not wants_page(request):
        return errors.http_error_handler(request, exc)
    lang = i18n.choose(request.headers.get("accept-language"))
    html = templates.env.get_template("pages/error.html").render(
        t=functools.partial(i18n.translate, lang),
        lang=lang,
        csrf="",
        signed_in=False,
        path=request.url.path,
        message=i18n.translate(lang, "notfound"),
    )
    return responses.protect(Response(html, status_code=404, media_type=MediaType.HTML))
