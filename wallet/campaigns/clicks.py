"""Links and a button in a campaign email, and the clicks on them, counted per campaign.

A marketer writes plain text. In it, ``https://…`` becomes a link, ``[text](https://…)`` a
link with that text, and a paragraph that is only ``[text](https://…)`` or ``[text]``
becomes a big button (``[text]`` alone opens the shopper's card page). Every link goes
through ``/c/<campaign>/<account>?u=<url>&s=<signature>``: the signature (``codes.mac``)
binds the three, so the redirect takes nobody anywhere a campaign did not send them (no
open redirect), and the first click of each shopper marks their delivery
(``delivery.clicked_at``), which the campaign's figures count as ``clicked``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Controller, Response, get
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from markupsafe import Markup, escape

from wallet import clock, codes, db
from wallet import settings as settings_module
from wallet.campaigns import pages, queries

PURPOSE = "campaign-click"
# A test send (no shopper behind it) carries account 0: its links work and count nothing.
TEST_ACCOUNT = 0

_LINK = re.compile(
    r"\[([^\[\]\n]{1,200})\]\((https?://[^\s()<>]{1,2000})\)|(https?://[^\s<>()\"']{1,2000})"
)
_BUTTON = re.compile(r"^\s*\[([^\[\]\n]{1,200})\](?:\((https?://[^\s()<>]{1,2000})\))?\s*$")


def _signature(campaign_id: int, account_id: int, url: str) -> str:
    return codes.mac(PURPOSE, f"{campaign_id}:{account_id}:{url}")


def click_url(campaign_id: int, account_id: int, url: str) -> str:
    base = settings_module.get().base_url
    sig = _signature(campaign_id, account_id, url)
    return f"{base}/c/{campaign_id}/{account_id}?u={quote(url, safe='')}&s={sig}"


# Punctuation that ends a sentence, not the address: "see https://shop.example/sale."
_TRAILING = ".,;:!?»)"


def blocks(body: str, *, campaign_id: int, account_id: int, card_url: str) -> list[dict[str, Any]]:
    """The body's paragraphs as HTML pieces for the email template: ``{"kind": "p",
    "html": …}`` (text escaped, links tracked) or ``{"kind": "button", "label", "href"}``."""
    found: list[dict[str, Any]] = []
    for paragraph in body.split("\n\n"):
        if not paragraph.strip():
            continue
        button = _BUTTON.match(paragraph)
        if button:
            target = button.group(2) or card_url
            found.append(
                {
                    "kind": "button",
                    "label": button.group(1).strip(),
                    "href": click_url(campaign_id, account_id, target),
                }
            )
            continue
        html: list[str] = []
        last = 0
        for link in _LINK.finditer(paragraph):
            html.append(str(escape(paragraph[last : link.start()])))
            if link.group(2):
                text, target, end = link.group(1), link.group(2), link.end()
            else:
                target = link.group(3).rstrip(_TRAILING)
                text, end = target, link.start() + len(target)
            href = escape(click_url(campaign_id, account_id, target))
            html.append(f'<a href="{href}">{escape(text)}</a>')
            last = end
        html.append(str(escape(paragraph[last:])))
        found.append({"kind": "p", "html": Markup("".join(html).replace("\n", "<br>"))})
    return found


def plain(body: str, *, card_url: str) -> str:
    """The body for the plain-text part: ``[text](url)`` as "text: url", a ``[text]``
    button as "text: <card page>"."""
    lines = []
    for paragraph in body.split("\n\n"):
        button = _BUTTON.match(paragraph)
        if button:
            lines.append(f"{button.group(1).strip()}: {button.group(2) or card_url}")
        else:
            lines.append(
                _LINK.sub(
                    lambda m: f"{m.group(1)}: {m.group(2)}" if m.group(2) else m.group(3), paragraph
                )
            )
    return "\n\n".join(lines)


def check(campaign_id: int, account_id: int, url: str, signature: str) -> bool:
    if urlsplit(url).scheme not in ("http", "https"):
        return False
    return codes.same_secret(signature, _signature(campaign_id, account_id, url))


async def record(campaign_id: int, account_id: int, *, now: datetime) -> None:
    if account_id == TEST_ACCOUNT:
        return
    async with db.write_transaction():
        await db.fetch(queries.MARK_CLICKED, now, campaign_id, account_id)


REFUSED = {
    400: ResponseSpec(
        str, media_type=MediaType.HTML, description="The link is damaged or not ours (a page)"
    )
}


class ClickController(Controller):
    """Where every link of a campaign email leads first."""

    path = "/c"
    tags = ["shopper"]
    security = []

    @get(
        "/{campaign_id:int}/{account_id:int}",
        operation_id="campaignClick",
        summary="Follow a link of a campaign email (counted, then redirected)",
        status_code=302,
        responses=REFUSED,
    )
    async def follow(
        self,
        campaign_id: FromPath[int],
        account_id: FromPath[int],
        u: FromQuery[str] = "",
        s: FromQuery[str] = "",
    ) -> Response[Any]:
        if not (0 <= campaign_id < 2**31 and 0 <= account_id < 2**31) or not check(
            campaign_id, account_id, u, s
        ):
            return pages.html("unsubscribe.html", {"state": "bad"}, status_code=400)
        await record(campaign_id, account_id, now=clock.now())
        return Redirect(path=u, status_code=302)
