"""The web till's server side: a till key signs a tablet in (the browser never holds the
key), every write carries the session's CSRF token, and quotes, receipts, returns and
phone lookups give exactly what the POS API gives for the same till key."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import httpx

from tests.support.shop import Shop, bearer, iso, line, make_key
from wallet import clock
from wallet import settings as settings_module
from wallet.auth.tables import TillSession
from wallet.receipts.tables import Receipt

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await client.get("/till")
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found
    return await client.post("/till/login", data={"csrf": found.group(1), "key": key})


async def till_csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/till")
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found, "the till page is not signed in"
    return found.group(1)


async def till_post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], token: str
) -> httpx.Response:
    return await client.post(f"/till/api{path}", json=body, headers={"X-CSRF-Token": token})


async def test_a_tablet_signs_in_with_a_till_key_and_keeps_only_a_session_token(client):
    shop = await Shop.open(client)
    signed = await sign_in(client, shop.pos_key)
    assert signed.status_code == 303 and signed.headers["location"] == "/till"
    cookie = client.cookies.get("wallet_till")
    assert cookie and cookie != shop.pos_key and shop.pos_key not in signed.headers["set-cookie"]
    set_cookie = signed.headers["set-cookie"].lower()
    assert (
        "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/till" in set_cookie
    )
    [stored] = await TillSession.select(TillSession.token_hash)
    assert cookie not in stored["token_hash"] and shop.pos_key not in stored["token_hash"]

    page = await client.get("/till")
    assert "Тверская, 12" in page.text and 'id="who"' in page.text
    assert "Телефон или номер карты" in page.text
    english = await client.get("/till", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Phone or card number" in english.text and "Телефон" not in english.text
    # Scripts from this site only, and the camera for this page alone.
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "camera=(self)" in page.headers["permissions-policy"]
    assert (await client.get("/till/assets/zxing.js")).text.startswith("!function")
    assert (await client.get("/till/assets/pages.py")).status_code == 404

    token = await till_csrf(client)
    signed_out = await client.post("/till/logout", data={"csrf": token})
    assert signed_out.status_code == 303
    client.cookies.set("wallet_till", cookie, path="/till")  # a copied cookie is dead too
    assert (await client.get("/till/api/shopper", params={"q": "+79123456789"})).status_code == 401
    assert 'name="key"' in (await client.get("/till")).text


async def test_staff_keys_wrong_keys_and_stale_forms_open_no_till_session(client):
    shop = await Shop.open(client)
    for key, status in ((shop.admin_key, 403), ("wk_pos_nothing", 401), ("", 401)):
        refused = await sign_in(client, key)
        assert refused.status_code == status, refused.text
        assert "wallet_till" not in refused.headers.get("set-cookie", "")
    stale = await client.post("/till/login", data={"csrf": "forged", "key": shop.pos_key})
    assert stale.status_code == 403
    assert await TillSession.count() == 0
    another_till = await make_key("pos", "MSK-001")
    assert (await sign_in(client, another_till)).status_code == 303
    assert await TillSession.count() == 1


async def test_revoking_the_till_key_ends_the_tablets_session_at_once(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", "anna@example.ru")
    await sign_in(client, shop.pos_key)
    found = await client.get("/till/api/shopper", params={"q": anna.card})
    assert found.status_code == 200
    keys = (await client.get("/api/v1/admin/keys", headers=bearer(shop.admin_key))).json()
    [pos] = [k for k in keys if k["role"] == "pos"]
    revoked = await client.post(
        f"/api/v1/admin/keys/{pos['id']}/revoke", headers=bearer(shop.admin_key)
    )
    assert revoked.status_code == 200
    gone = await client.get("/till/api/shopper", params={"q": anna.card})
    assert gone.status_code == 401 and gone.json()["code"] == "unauthorized"


async def test_till_writes_without_the_sessions_csrf_token_are_refused_and_change_nothing(
    client,
):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", "anna@example.ru")
    await sign_in(client, shop.pos_key)
    body = {
        "receipt_id": "W-1",
        "card_number": anna.card,
        "occurred_at": iso(clock.now() - timedelta(seconds=1)),
        "lines": [line(100_000)],
    }
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        refused = await client.post("/till/api/receipts", json=body, headers=headers)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert await Receipt.count() == 0


async def test_the_till_quotes_posts_and_returns_exactly_as_the_pos_api(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова", "anna@example.ru", phone="+79123456789")
    await shop.give_points(anna.account_id, 300)
    await sign_in(client, shop.pos_key)
    token = await till_csrf(client)

    by_phone = await client.get("/till/api/shopper", params={"q": "8 (912) 345-67-89"})
    assert by_phone.status_code == 200, by_phone.text
    pos_lookup = await client.get(
        "/api/v1/pos/lookup", params={"phone": "+79123456789"}, headers=bearer(shop.pos_key)
    )
    # Both give a card reference in place of the number (a new token each time).
    till_card, pos_card = by_phone.json()["card"], pos_lookup.json()
    assert till_card.pop("card_number").startswith("ref.")
    assert pos_card.pop("card_number").startswith("ref.")
    assert by_phone.json() | {"card": till_card} == {
        "card": pos_card,
        "name": "Анна Смирнова",
        "found_by": "phone",
    }
    spaced = " ".join(anna.card[i : i + 4] for i in range(0, 16, 4))
    by_card = (await client.get("/till/api/shopper", params={"q": spaced})).json()
    assert by_card["found_by"] == "card" and by_card["card"]["spendable_now"] == 300

    # Scanned, so spending needs no texted code (a phone-found shopper's is in the
    # browser test and tests/sms/test_spend_codes.py).
    quote = {
        "card_number": by_card["card"]["card_number"],
        "lines": [line(100_000), line(20_000, "tobacco", "SKU-2")],
        "redeem_points": 200,
        "occurred_at": iso(clock.now() - timedelta(seconds=1)),
    }
    till_quote = await till_post(client, "/quotes", quote, token)
    pos_quote = await client.post("/api/v1/pos/quotes", json=quote, headers=bearer(shop.pos_key))
    assert till_quote.status_code == 200, till_quote.text
    assert till_quote.json() == pos_quote.json()

    receipt = {**quote, "receipt_id": "W-TEST-1"}
    posted = await till_post(client, "/receipts", receipt, token)
    assert posted.status_code == 201, posted.text
    for figure in ("redeemed_points", "paid_kopecks", "earned_points", "lines", "explanation"):
        assert posted.json()[figure] == till_quote.json()[figure], figure
    # The same receipt sent by the register is the same receipt (one id space per store).
    again = await client.post("/api/v1/pos/receipts", json=receipt, headers=bearer(shop.pos_key))
    assert again.status_code == 201 and again.json() == posted.json()
    earned = posted.json()["earned_points"]
    assert (await shop.me(anna))["balance"] == 300 - 200 + earned == posted.json()["balance_after"]

    giving_back = {
        "receipt_id": "W-TEST-1",
        "return_id": "R-W-TEST-1",
        "occurred_at": iso(clock.now()),
    }
    returned = await till_post(client, "/returns", giving_back, token)
    assert returned.status_code == 201, returned.text
    assert returned.json()["refunded_points"] == 200
    pos_again = await client.post(
        "/api/v1/pos/returns", json=giving_back, headers=bearer(shop.pos_key)
    )
    assert pos_again.json() == returned.json()
    assert (await shop.me(anna))["balance"] == 300


async def test_bad_till_input_gets_the_pos_apis_errors_and_changes_nothing(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", "anna@example.ru")
    await sign_in(client, shop.pos_key)
    token = await till_csrf(client)

    unknown = await client.get("/till/api/shopper", params={"q": "+79035550000"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "shopper_not_found"
    bad_phone = await client.get("/till/api/shopper", params={"q": "+7 000"})
    assert bad_phone.status_code == 422 and bad_phone.json()["details"] == {"field": "phone"}
    bad_card = await client.get("/till/api/shopper", params={"q": "7700 0000 0000 0000"})
    assert bad_card.status_code == 422
    too_long = await client.get("/till/api/shopper", params={"q": "1" * 41})
    assert too_long.status_code == 400

    over_cap = {
        "card_number": anna.card,
        "lines": [line(10_000)],
        "redeem_points": 5,
    }
    refused = await till_post(client, "/quotes", over_cap, token)
    assert refused.status_code == 422 and refused.json()["code"] == "redemption_over_cap"
    unknown_field = await till_post(client, "/quotes", {**over_cap, "price": 1}, token)
    assert unknown_field.status_code == 400
    not_json = await client.post(
        "/till/api/receipts",
        content=b"{",
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    no_receipt = await till_post(
        client,
        "/returns",
        {"receipt_id": "NOPE", "return_id": "R-NOPE", "occurred_at": iso(clock.now())},
        token,
    )
    assert no_receipt.status_code == 404 and no_receipt.json()["code"] == "receipt_not_found"
    forged = await till_post(client, "/spend-codes", {"card_number": "ref." + "A" * 60}, token)
    assert forged.status_code == 422 and forged.json()["code"] == "card_reference_invalid"
    assert await Receipt.count() == 0


async def test_the_tills_phone_lookups_count_against_the_till_keys_allowance(client):
    settings_module.override(dataclasses.replace(settings_module.get(), pos_lookups_per_hour=3))
    shop = await Shop.open(client)
    await sign_in(client, shop.pos_key)
    statuses = [
        (await client.get("/till/api/shopper", params={"q": f"+7903555000{n}"})).status_code
        for n in range(2)
    ]
    statuses.append(
        (
            await client.get(
                "/api/v1/pos/lookup", params={"phone": "+79035550009"}, headers=bearer(shop.pos_key)
            )
        ).status_code
    )
    limited = await client.get("/till/api/shopper", params={"q": "+79035550003"})
    assert statuses == [404, 404, 404] and limited.status_code == 429


async def test_ended_till_sessions_are_forgotten_a_day_later_and_live_ones_stay(client):
    from wallet.signin import service as signin

    shop = await Shop.open(client)
    await sign_in(client, shop.pos_key)
    token = await till_csrf(client)
    await client.post("/till/logout", data={"csrf": token})
    await sign_in(client, shop.pos_key)
    now = clock.now()
    assert (await signin.prune(now=now))["till_session"] == 0
    removed = await signin.prune(now=now + timedelta(days=1, minutes=1))
    assert removed["till_session"] == 1
    assert (await client.get("/till")).text.count('id="who"') == 1
    # The live session expires after a shift and a half, and goes a day after that.
    assert (await signin.prune(now=now + timedelta(hours=14, days=1, minutes=1)))[
        "till_session"
    ] == 1
