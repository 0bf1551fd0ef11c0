"""Enrolment from outside: a replay never hands out a token, members are not told apart by
a 409 or their card, and enrolments are limited per IP and per contact."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx

from tests.pages.conftest import code_in, csrf_of, post_form
from tests.support.shop import Shop, bearer
from wallet import db
from wallet import settings as settings_module

CONSENTS = {"program": True, "personal_data": True, "terms_version": "v1"}


def body(email: str | None = None, phone: str | None = None, name: str = "Анна") -> dict:
    found: dict = {"name": name, "consents": CONSENTS}
    if email:
        found["email"] = email
    if phone:
        found["phone"] = phone
    return found


def limit_per_ip(count: int) -> None:
    settings_module.override(dataclasses.replace(settings_module.get(), enrol_limit_per_ip=count))


async def test_a_replayed_enrolment_answers_without_a_token(client):
    headers = {"Idempotency-Key": "tap-1"}
    first = await client.post("/api/v1/cards", json=body("anna@example.ru"), headers=headers)
    assert first.status_code == 201 and first.json()["shopper_token"].startswith("ws_")
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as other:
        replay = await other.post("/api/v1/cards", json=body("anna@example.ru"), headers=headers)
    assert replay.status_code == 201
    assert replay.json()["card_number"] == first.json()["card_number"]
    assert replay.json()["shopper_token"] is None
    tokens = await db.raw("SELECT id FROM shopper_token")
    assert len(tokens) == 1
    stored = await db.raw("SELECT response FROM idempotency_record")
    assert "ws_" not in str(stored)


async def test_an_existing_members_contact_gets_a_code_not_their_card(client, smtp_sink):
    anna = await client.post("/api/v1/cards", json=body("anna@example.ru", "+79160000001"))
    assert anna.status_code == 201
    card = anna.json()["card_number"]
    by_email = await client.post("/api/v1/cards", json=body("Anna@example.ru", name="Ева"))
    by_phone = await client.post("/api/v1/cards", json=body(phone="+79160000001", name="Ева"))
    for reply in (by_email, by_phone):
        assert reply.status_code == 202, reply.text
        data = reply.json()
        assert data["status"] == "code_sent"
        assert set(data) == {"status", "message", "email"}
        assert card not in reply.text and "ws_" not in reply.text
    assert by_email.json()["email"] == "anna@example.ru"
    # The phone's member's address is not told to whoever typed the phone.
    assert by_phone.json()["email"] is None and "anna@" not in by_phone.text
    assert len(await db.raw("SELECT id FROM member")) == 1
    mails = smtp_sink.to("anna@example.ru")
    assert len(mails) == 2
    # The code signs the member in as the sign-in form's would.
    sent = await post_form(client, "/signin", "/signin", {"email": "nobody@example.ru"})
    signed = await client.post(
        "/signin/code",
        data={"csrf": csrf_of(sent.text), "email": "anna@example.ru", "code": code_in(mails[-1])},
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/card"


async def test_the_join_page_sends_a_member_a_code_instead_of_saying_already_a_member(
    client, smtp_sink
):
    first = await post_form(
        client,
        "/join",
        "/join",
        {"name": "Анна", "email": "anna@example.ru", "consent_program": "1", "consent_data": "1"},
    )
    assert first.status_code == 303
    client.cookies.delete("wsession")
    again = await post_form(
        client,
        "/join",
        "/join",
        {"name": "Ева", "email": "anna@example.ru", "consent_program": "1", "consent_data": "1"},
    )
    assert again.status_code == 200 and 'name="code"' in again.text
    assert "wsession" not in again.headers.get("set-cookie", "")
    assert (await client.get("/card")).headers["location"] == "/signin"
    assert len(smtp_sink.to("anna@example.ru")) == 1
    assert len(await db.raw("SELECT id FROM member")) == 1


async def test_anonymous_enrolment_is_limited_per_ip_but_not_for_a_till(client):
    limit_per_ip(3)
    replies = await asyncio.gather(
        *(client.post("/api/v1/cards", json=body(f"p{n}@example.ru")) for n in range(10))
    )
    statuses = sorted(reply.status_code for reply in replies)
    assert statuses == [201] * 3 + [429] * 7
    refused = next(reply for reply in replies if reply.status_code == 429)
    assert refused.json()["code"] == "too_many_attempts"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert len(await db.raw("SELECT id FROM member")) == 3
    shop = await Shop.open(client)
    till = await client.post(
        "/api/v1/cards", json=body("till@example.ru"), headers=bearer(shop.pos_key)
    )
    assert till.status_code == 201
    wrong = await client.post(
        "/api/v1/cards", json=body("w@example.ru"), headers=bearer("wk_pos_nonsense")
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
    limit_per_ip(0)
    assert (await client.post("/api/v1/cards", json=body("off@example.ru"))).status_code == 201


async def test_one_contact_is_limited_member_or_not_and_counted_atomically(client):
    limit_per_ip(0)
    replies = await asyncio.gather(
        *(client.post("/api/v1/cards", json=body(phone="+79160000002")) for _ in range(200))
    )
    statuses = [reply.status_code for reply in replies]
    # One card, then codes to nobody (no email on file), then the per-contact limit.
    assert statuses.count(201) == 1
    assert statuses.count(202) == 4
    assert statuses.count(429) == 195
    assert len(await db.raw("SELECT id FROM member")) == 1
