"""One shopper per phone however it is typed: every phone that comes in is read with
``phonenumbers`` and stored in E.164, through the API, the /join page, /me, support
search and Кошелёк; an invalid number is a 422 naming the field and changes nothing."""

from __future__ import annotations

import importlib

from tests.pages.conftest import post_form
from tests.support.shop import Shop, bearer
from wallet import clock, db

CONSENTS = {"program": True, "personal_data": True, "terms_version": "v1"}


def body(phone: str, name: str = "Анна", **extra: object) -> dict:
    return {"name": name, "consents": CONSENTS, "phone": phone, **extra}


async def phones_stored() -> list[str]:
    return [r["phone"] for r in await db.raw("SELECT phone FROM member ORDER BY id")]


async def test_three_ways_of_typing_one_number_are_one_shopper(client):
    first = await client.post("/api/v1/cards", json=body("8 (912) 345-67-89"))
    assert first.status_code == 201, first.text
    for typed in ("+7 912 345 67 89", "79123456789", "9123456789"):
        again = await client.post("/api/v1/cards", json=body(typed, name="Ева"))
        # The sign-in path, not a second account.
        assert again.status_code == 202, (typed, again.text)
        assert again.json()["status"] == "code_sent"
    assert await phones_stored() == ["+79123456789"]


async def test_an_invalid_phone_is_a_422_naming_the_field_and_nothing_is_made(client):
    for typed in ("+7 000", "12345", "+7 (912) 345-67-89-00-11", "phone"):
        reply = await client.post("/api/v1/cards", json=body(typed))
        assert reply.status_code == 422, (typed, reply.text)
        problem = reply.json()
        assert problem["code"] == "invalid_phone" and problem["details"] == {"field": "phone"}
        assert "phone" in problem["message"]
    assert await phones_stored() == []


async def test_the_join_page_stores_the_number_in_e164_and_refuses_an_invalid_one(client):
    fields = {"name": "Анна", "consent_program": "1", "consent_data": "1"}
    joined = await post_form(client, "/join", "/join", {**fields, "phone": "8 (912) 345-67-89"})
    assert joined.status_code in (200, 303), joined.text
    assert await phones_stored() == ["+79123456789"]
    bad = await post_form(client, "/join", "/join", {**fields, "phone": "+7 000"})
    assert bad.status_code in (200, 422) and "phone" in bad.text
    assert await phones_stored() == ["+79123456789"]


async def test_me_changes_the_phone_in_e164_and_refuses_anothers(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", "anna@example.ru")
    await shop.enrol("Борис", "boris@example.ru", phone="+7 903 555-00-00")
    changed = await client.patch(
        "/api/v1/me", json={"phone": "8 912 345 67 89"}, headers=anna.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "+79123456789"
    invalid = await client.patch("/api/v1/me", json={"phone": "+7 000"}, headers=anna.headers)
    assert invalid.status_code == 422 and invalid.json()["details"] == {"field": "phone"}
    taken = await client.patch("/api/v1/me", json={"phone": "89035550000"}, headers=anna.headers)
    assert taken.status_code == 409, taken.text
    assert sorted(await phones_stored()) == ["+79035550000", "+79123456789"]


async def test_support_finds_a_shopper_joined_with_any_typing(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", "anna@example.ru", phone="8 (916) 123-45-67")
    for q in ("+79161234567", "79161234567", "8 916 123-45-67"):
        reply = await client.get(
            "/api/v1/admin/members/search",
            params={"q": q, "reason": "call"},
            headers=bearer(shop.support_key),
        )
        assert [m["account_id"] for m in reply.json()["members"]] == [anna.account_id], q


async def test_the_migration_rewrites_typed_phones_in_e164(database):
    migration = importlib.import_module(
        "wallet.members.migrations.members_2026_11_30t11_41_00_000000"
    )
    for account_id in (9001, 9002, 9003, 9004):
        await db.raw("INSERT INTO account (id) VALUES ({})", account_id)
    for member_id, phone in (
        (1, "89123456789"),
        (2, "79161234567"),
        (3, "not a phone"),
        (4, "+79161234567"),  # the same person as member 2, written the other way
    ):
        await db.raw(
            "INSERT INTO member (id, account, name, phone, consent_program_at, "
            "consent_program_version, consent_data_at, consent_data_version) "
            "VALUES ({}, {}, 'x', {}, {}, 'v', {}, 'v')",
            member_id,
            9000 + member_id,
            phone,
            clock.now(),
            clock.now(),
        )
    await migration.normalise_phones()
    assert await phones_stored() == ["+79123456789", "79161234567", "not a phone", "+79161234567"]
