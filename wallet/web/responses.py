"""The headers every HTML reply carries (pages, console, unsubscribe): never cached (they
show one person's figures and forms with CSRF tokens), never framed (clickjacking)."""

from __future__ import annotations

from typing import Any

from litestar import Response
from litestar.enums import MediaType

HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def protect(response: Response[Any], headers: dict[str, str] | None = None) -> Response[Any]:
    """``response`` with the HTML headers (``headers`` overrides them)."""
    for key, value in {**HEADERS, **(headers or {})}.items():
        response.headers[key] = value
    return response


def html(
    body: str, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[str]:
    return Response(
        body,
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={**HEADERS, **(headers or {})},
    )
