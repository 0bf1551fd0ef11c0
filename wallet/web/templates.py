"""The one Jinja environment, over ``templates/``: pages under ``pages/``, the console and
the unsubscribe page under ``console/``, emails under ``email/``. A name used inside a
template (``{% extends "base.html" %}``) is looked up beside that template, so each area
keeps its own ``base.html``.

Marketers' own subject and body text is rendered elsewhere, in a sandbox
(``wallet.campaigns.service``): that is text from a user, not one of our templates."""

from __future__ import annotations

import posixpath
from datetime import UTC
from datetime import date as Date
from datetime import datetime as DateTime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from wallet import settings, words

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

# Every template writes numbers the one way (wallet/words.py): ``{{ n|points(lang) }}`` ->
# "22 балла", ``{{ kopecks|money(lang) }}`` -> "3 431,10 ₽", ``{{ "2026-11"|month(lang) }}``
# -> "ноябрь 2026", ``{{ "2027-01-31"|day(lang) }}`` -> "31 января 2027", ``{{ plural(n, "день", "дня", "дней") }}``.
env.filters["points"] = lambda n, lang="ru": words.points(int(n), words.lang_of(lang))
env.filters["money"] = lambda kopecks, lang="ru": words.money(int(kopecks), words.lang_of(lang))
env.filters["month"] = lambda key, lang="ru": words.month_key(str(key), words.lang_of(lang))
env.filters["count"] = lambda n, noun, lang="ru": words.count(int(n), noun, words.lang_of(lang))
env.filters["day"] = lambda day, lang="ru": words.date(
    day if isinstance(day, Date) else Date.fromisoformat(str(day)), words.lang_of(lang)
)
# ``{{ "2026-11-30T15:00:00+00:00"|moment(lang) }}`` -> "30 ноября 2026, 18:00", in the
# program's zone, from a datetime or its ISO text (what a queued email's context carries).
env.filters["moment"] = lambda at, lang="ru": words.date_time(
    _aware(at).astimezone(settings.get().tz), words.lang_of(lang)
)


def _aware(at: object) -> DateTime:
    """A moment from a datetime or its ISO text (SQLite hands raw SQL's timestamps back as
    text); one without a zone is UTC, as the database keeps them."""
    moment = at if isinstance(at, DateTime) else DateTime.fromisoformat(str(at))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


env.globals["plural"] = words.plural


def render(name: str, context: dict[str, Any]) -> str:
    """Template ``name`` (``"pages/card.html"``) filled with ``context``."""
    return env.get_template(name).render(context)
