"""The one Jinja environment, over ``templates/``: pages under ``pages/``, the console and
the unsubscribe page under ``console/``, emails under ``email/``. A name used inside a
template (``{% extends "base.html" %}``) is looked up beside that template, so each area
keeps its own ``base.html``.

Marketers' own subject and body text is rendered elsewhere, in a sandbox
(``wallet.campaigns.service``): that is text from a user, not one of our templates."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


class _Environment(Environment):
    def join_path(self, template: str, parent: str) -> str:
        if "/" in template:
            return template
        return posixpath.join(posixpath.dirname(parent), template)


env = _Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    # HTML and inline SVG are escaped; the text parts of emails (.txt) are not.
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # Templates ship with the code: no stat() of the file on every render.
    auto_reload=False,
)


def render(name: str, context: dict[str, Any]) -> str:
    """Template ``name`` (``"pages/card.html"``) filled with ``context``."""
    return env.get_template(name).render(context)
