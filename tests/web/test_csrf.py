"""CSRF tokens are bound to the session, on the shopper pages and the console alike."""

from __future__ import annotations

import httpx
import pytest

from tests.pages.conftest import csrf_of, join
from tests.support.shop import make_key
from wallet import db


async def test_a_cookie_and_field_of_the_callers_choosing_are_refused(client):
    client.cookies.set("wcsrf", "x" * 43)
    forged = await client.post(
        "/join",
        data={
            "csrf": "x" * 43,
            "name": "Ева",
            "email": "eve@example.ru",
            "consent_program": "1",
            "consent_data": "1",
        },
    )
    assert forged.status_code == 403
    assert await db.raw("SELECT id FROM member") == []


async def test_a_token_from_one_session_does_not_work_in_another(client):
    await join(client, name="Анна", email="anna@example.ru")
    annas_token = csrf_of((await client.get("/card")).text)
    transport = client._transport  # the same app, another browser
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as other:
        await join(other, name="Иван", email="ivan@example.ru")
        card = await other.get("/card")
        refused = await other.post(
            "/card/family", data={"csrf": annas_token, "holder_name": "Маша"}
        )
        assert refused.status_code == 403
        allowed = await other.post(
            "/card/family", data={"csrf": csrf_of(card.text), "holder_name": "Маша"}
        )
        assert allowed.status_code == 303
    assert len(await db.raw("SELECT id FROM card WHERE role = 'family'")) == 1


async def test_a_signed_out_sessions_token_is_worthless(client):
    await join(client, name="Анна", email="anna@example.ru")
    token = csrf_of((await client.get("/card")).text)
    signed_out = await client.post("/signout", data={"csrf": token})
    assert signed_out.status_code == 303
    again = await client.post(
        "/join",
        data={
            "csrf": token,
            "name": "Ева",
            "email": "eve@example.ru",
            "consent_program": "1",
            "consent_data": "1",
        },
    )
    assert again.status_code == 403


@pytest.mark.parametrize("sent", ["é", "x" * 43, ""])
async def test_a_non_ascii_or_foreign_token_is_a_403_on_pages_and_console(client, sent):
    await client.get("/join")
    page = await client.post(
        "/join", data={"csrf": sent, "name": "Ева", "consent_program": "1", "consent_data": "1"}
    )
    assert page.status_code == 403
    key = await make_key("marketer")
    client.cookies.set("wallet_console", key, path="/console")
    console = await client.post(
        "/console/segments", data={"csrf": sent, "name": "x", "filter": "{}"}
    )
    assert console.status_code == 403
    assert console.json()["code"] == "forbidden"
    assert await db.raw("SELECT id FROM segment") == []
