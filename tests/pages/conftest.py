"""Helpers for the shopper pages: a phone-like HTTP client that keeps cookies and sends the
CSRF token every form carries."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def post_form(
    http: httpx.AsyncClient, page: str, action: str, fields: dict[str, Any]
) -> httpx.Response:
    """Open ``page``, then submit ``fields`` to ``action`` with the page's CSRF token."""
    shown = await http.get(page)
    assert shown.status_code == 200, shown.text
    return await http.post(action, data={"csrf": csrf_of(shown.text), **fields})


async def join(
    http: httpx.AsyncClient, *, name: str, email: str, store: str | None = None
) -> httpx.Response:
    page = f"/join?store={store}" if store else "/join"
    fields = {"name": name, "email": email, "consent_program": "1", "consent_data": "1"}
    if store:
        fields["store"] = store
    return await post_form(http, page, "/join", fields)


def code_in(message: Any) -> str:
    body = message.get_body(("plain",)).get_content()
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)
