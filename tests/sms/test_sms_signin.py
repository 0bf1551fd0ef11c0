"""Shoppers sign in with a six-digit code by SMS, on /signin and through the API (which
hands an app a new shopper token for the code): the SMS goes over SMPP to the SMSC
stand-in; 10 minutes, five tries, sends limited per number and per IP, and the same
reply for a number that is not a member's."""

from __future__ import annotations

import re

from tests.pages.conftest import post_form
from tests.support.shop import bearer
from wallet.platform import worker

CONSENTS = {"program": True, "personal_data": True, "terms_version": "v1"}


async def enrol_by_phone(client, phone: str = "+79123456789") -> dict:
    reply = await client.post(
        "/api/v1/cards", json={"name": "Анна", "consents": CONSENTS, "phone": phone}
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


async def sms_code(smsc, number: str = "79123456789") -> str:
    await worker.run_until_idle()
    texts = smsc.texts_to(number)
    assert texts, f"no SMS to {number}"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found, texts[-1]
    return found.group(1)


async def test_an_app_gets_a_new_shopper_token_for_an_sms_code(client, smsc):
    joined = await enrol_by_phone(client)
    asked = await client.post("/api/v1/signin/code", json={"phone": "8 (912) 345-67-89"})
    assert asked.status_code == 202, asked.text
    code = await sms_code(smsc)
    assert smsc.submits[-1].data_coding == 8 and "Код входа" in smsc.submits[-1].text
    signed = await client.post("/api/v1/signin/token", json={"phone": "79123456789", "code": code})
    assert signed.status_code == 200, signed.text
    token = signed.json()["shopper_token"]
    assert token != joined["shopper_token"]
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["account_id"] == joined["account_id"]
    again = await client.post("/api/v1/signin/token", json={"phone": "79123456789", "code": code})
    assert again.status_code == 422 and again.json()["code"] == "wrong_code"


async def test_an_unknown_number_gets_the_same_reply_and_no_sms(client, smsc):
    await enrol_by_phone(client)
    member = await client.post("/api/v1/signin/code", json={"phone": "+79123456789"})
    stranger = await client.post("/api/v1/signin/code", json={"phone": "+79035550000"})
    assert member.status_code == stranger.status_code == 202
    assert member.json() == stranger.json()
    await worker.run_until_idle()
    assert smsc.texts_to("79035550000") == [] and len(smsc.texts_to("79123456789")) == 1


async def test_five_wrong_tries_lock_the_code_and_sends_are_limited_per_number(client, smsc):
    await enrol_by_phone(client)
    await client.post("/api/v1/signin/code", json={"phone": "+79123456789"})
    code = await sms_code(smsc)
    wrong = "000000" if code != "000000" else "111111"
    lefts = []
    for _ in range(5):
        reply = await client.post(
            "/api/v1/signin/token", json={"phone": "+79123456789", "code": wrong}
        )
        assert reply.status_code == 422
        lefts.append(reply.json()["details"]["tries_left"])
    assert lefts == [4, 3, 2, 1, 0]
    locked = await client.post("/api/v1/signin/token", json={"phone": "+79123456789", "code": code})
    assert locked.status_code == 422
    statuses = [
        (await client.post("/api/v1/signin/code", json={"phone": "89123456789"})).status_code
        for _ in range(3)
    ]
    # Three codes in 15 minutes per number (the first was asked above).
    assert statuses == [202, 202, 429]
    bad = await client.post("/api/v1/signin/code", json={"phone": "+7 000"})
    assert bad.status_code == 422 and bad.json()["details"] == {"field": "phone"}
    both = await client.post(
        "/api/v1/signin/code", json={"phone": "+79123456789", "email": "a@example.ru"}
    )
    assert both.status_code == 422


async def test_the_signin_page_takes_a_phone_and_signs_in_with_the_sms_code(client, smsc):
    await enrol_by_phone(client)
    sent = await post_form(client, "/signin", "/signin", {"email": "8 912 345-67-89"})
    assert sent.status_code == 200, sent.text
    assert 'value="+79123456789"' in sent.text
    code = await sms_code(smsc)
    signed = await post_form(
        client, "/signin", "/signin/code", {"email": "+79123456789", "code": code}
    )
    assert signed.status_code in (302, 303) and signed.headers["location"].endswith("/card")


async def test_joining_again_with_a_phone_only_members_number_sends_the_code_by_sms(client, smsc):
    await enrol_by_phone(client)
    again = await client.post(
        "/api/v1/cards", json={"name": "Ева", "consents": CONSENTS, "phone": "8 912 345 67 89"}
    )
    assert again.status_code == 202 and again.json()["status"] == "code_sent"
    code = await sms_code(smsc)
    signed = await client.post("/api/v1/signin/token", json={"phone": "+79123456789", "code": code})
    assert signed.status_code == 200, signed.text


async def test_erasing_a_shopper_forgets_the_sms_to_their_number(client, smsc):
    from tests.support.shop import make_key
    from wallet import db

    await enrol_by_phone(client)
    await client.post("/api/v1/signin/code", json={"phone": "+79123456789"})
    await sms_code(smsc)
    assert len(await db.raw("SELECT id FROM sms_message")) == 1
    member = (await db.raw("SELECT id FROM member"))[0]["id"]
    erased = await client.post(
        f"/api/v1/admin/members/{member}/erase",
        json={"reason": "the shopper asked by letter"},
        headers=bearer(await make_key("support")),
    )
    assert erased.status_code == 200, erased.text
    assert await db.raw("SELECT id FROM sms_message") == []
