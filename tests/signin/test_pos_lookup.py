"""A till finds a shopper by phone with the identify reply; an unknown number is 404, and
a till key cannot walk the numbers (the lookups are limited per key)."""

from __future__ import annotations

import dataclasses

from tests.support.shop import Shop, bearer, make_key
from wallet import settings as settings_module


async def test_a_till_finds_a_shopper_by_phone_typed_any_way(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", "anna@example.ru", phone="+79123456789")
    await shop.give_points(anna.account_id, 150)
    by_card = await client.get(f"/api/v1/pos/cards/{anna.card}", headers=bearer(shop.pos_key))
    for typed in ("8 (912) 345-67-89", "+7 912 345 67 89", "79123456789"):
        found = await client.get(
            "/api/v1/pos/lookup", params={"phone": typed}, headers=bearer(shop.pos_key)
        )
        assert found.status_code == 200, found.text
        # The same reply, with an opaque card reference for the number (spending with it
        # needs the code the shopper is texted: tests/sms/test_spend_codes.py).
        assert found.json()["card_number"].startswith("ref.")
        assert found.json() | {"card_number": anna.card} == by_card.json()
        assert found.json()["balance"] == 150
    unknown = await client.get(
        "/api/v1/pos/lookup", params={"phone": "+79035550000"}, headers=bearer(shop.pos_key)
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "shopper_not_found"
    invalid = await client.get(
        "/api/v1/pos/lookup", params={"phone": "+7 000"}, headers=bearer(shop.pos_key)
    )
    assert invalid.status_code == 422 and invalid.json()["details"] == {"field": "phone"}
    shopper = await client.get(
        "/api/v1/pos/lookup", params={"phone": "+79123456789"}, headers=anna.headers
    )
    assert shopper.status_code in (401, 403)


async def test_lookups_are_limited_per_till_key(client):
    settings_module.override(dataclasses.replace(settings_module.get(), pos_lookups_per_hour=3))
    shop = await Shop.open(client)
    await shop.enrol("Анна", "anna@example.ru", phone="+79123456789")
    statuses = []
    for n in range(4):
        reply = await client.get(
            "/api/v1/pos/lookup",
            params={"phone": f"+7903555000{n}"},
            headers=bearer(shop.pos_key),
        )
        statuses.append(reply.status_code)
    assert statuses == [404, 404, 404, 429]
    assert int(reply.headers["Retry-After"]) > 0
    # Another till's key has its own allowance.
    other = await make_key("pos", "MSK-001")
    found = await client.get(
        "/api/v1/pos/lookup", params={"phone": "+79123456789"}, headers=bearer(other)
    )
    assert found.status_code == 200
