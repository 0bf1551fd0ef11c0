"""Server-rendered pages of this domain (the marketers' console and the unsubscribe page),
from ``templates/console/`` through the one Jinja environment (``wallet.web``)."""

from __future__ import annotations

from typing import Any

from litestar import Response

from wallet.web import responses, templates


def render(name: str, context: dict[str, Any]) -> str:
    return templates.render(f"console/{name}", context)


def html(
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return responses.html(
        render(name, context),
        status_code=status_code,
        # The console's pages link nowhere outside: no referrer leaves with a click.
        headers={"Referrer-Policy": "no-referrer", **(headers or {})},
    )
