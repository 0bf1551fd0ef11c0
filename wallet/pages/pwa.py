"""The card as an installable web app, for phones without Apple or Google Wallet (many
in our market): a web app manifest, the icons, and a service worker that keeps the card
page (its QR code and number) available offline (``templates/pages/sw.js``)."""

from __future__ import annotations

import functools
import io
import json
from typing import Any

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from PIL import Image

from wallet.http import PAGE_CSP
from wallet.mail import service as mail
from wallet.web import templates

BRAND_BACKGROUND = "#1F4E3D"
THEME = "#0b5cad"
ICON_SIZES = (192, 512)
# The card page alone may run our own script (registering the worker) and name the
# manifest; every other page keeps the script-less policy.
CARD_CSP = f"{PAGE_CSP}; script-src 'self'; manifest-src 'self'; worker-src 'self'"
# The worker fetches the card page and nothing else.
WORKER_CSP = "default-src 'none'; connect-src 'self'"


def manifest(lang: str) -> dict[str, Any]:
    ru = lang == "ru"
    return {
        "name": "Карта лояльности" if ru else "Loyalty card",
        "short_name": "Карта" if ru else "Card",
        "lang": lang,
        "start_url": "/card",
        "scope": "/",
        "display": "standalone",
        "background_color": BRAND_BACKGROUND,
        "theme_color": THEME,
        "icons": [
            {"src": f"/icons/card-{size}.png", "sizes": f"{size}x{size}", "type": "image/png"}
            for size in ICON_SIZES
        ],
    }


@functools.cache
def icon(size: int) -> bytes:
    """The pass logo's round mark on the brand colour, square (launchers round it)."""
    logo = Image.open(templates.TEMPLATES / "pass" / "logo@2x.png").convert("RGBA")
    mark = logo.crop((0, 0, logo.height, logo.height))  # the circle at the logo's left
    canvas = Image.new("RGBA", (size, size), BRAND_BACKGROUND)
    inner = int(size * 0.72)
    mark = mark.resize((inner, inner), Image.Resampling.LANCZOS)
    canvas.alpha_composite(mark, ((size - inner) // 2, (size - inner) // 2))
    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def _static(name: str) -> str:
    return (templates.TEMPLATES / "pages" / name).read_text(encoding="utf-8")


class CardAppController(Controller):
    include_in_schema = False

    @get("/manifest.webmanifest")
    async def manifest(self, lang: FromQuery[str] = "ru") -> Response[bytes]:
        body = json.dumps(manifest("en" if lang == "en" else "ru"), ensure_ascii=False)
        return Response(
            body.encode(),
            media_type="application/manifest+json",
            headers={"Cache-Control": "max-age=3600"},
        )

    @get("/sw.js")
    async def worker(self) -> Response[str]:
        # No long cache: browsers check the worker for updates, and an old one would keep
        # serving an old card.
        return Response(
            _static("sw.js"),
            media_type="text/javascript",
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": WORKER_CSP,
                "Service-Worker-Allowed": "/",
            },
        )

    @get("/card.js")
    async def card_script(self) -> Response[str]:
        return Response(
            _static("card.js"),
            media_type="text/javascript",
            headers={"Cache-Control": "max-age=3600"},
        )

    @get("/icons/{name:str}")
    async def icon(self, name: FromPath[str]) -> Response[bytes]:
        # A route cannot hold a parameter inside one path segment: "card-192.png" whole.
        if name == "email-logo.png":  # the emails' header (wallet.mail.service.LOGO_PATH)
            return Response(
                mail.logo(), media_type="image/png", headers={"Cache-Control": "max-age=86400"}
            )
        size = next((size for size in ICON_SIZES if name == f"card-{size}.png"), None)
        if size is None:
            raise NotFoundException("no such icon")
        return Response(
            icon(size), media_type="image/png", headers={"Cache-Control": "max-age=86400"}
        )
