"""Server-rendered pages of this domain (the marketers' console and the unsubscribe page),
from ``templates/console/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Response
from litestar.enums import MediaType

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "console"

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, context: dict[str, Any]) -> str:
    return _env.get_template(name).render(context)


def html(
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return Response(
        render(name, context),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            **(headers or {}),
        },
    )
