"""Hostile input gets a clear 4xx with our error body and changes nothing: numbers no
column holds, damaged tokens, form fields that are not numbers, JSON nested to the stack's
limit, receipts no till could ring up."""

from __future__ import annotations

import pytest

from tests.pages.conftest import csrf_of, join, post_form
from tests.support.shop import Shop, bearer, line, make_key
from wallet import clock, db

HUGE = [2**31, 2**63, 10**20]


def _refused(reply, where: str) -> None:
    assert 400 <= reply.status_code < 500, (where, reply.status_code, reply.text)
    if reply.headers.get("content-type", "").startswith("application/json"):
        assert {"code", "message"} <= set(reply.json()), (where, reply.text)


async def test_ids_beyond_their_column_are_refused_not_a_server_error(client):
    shop = await Shop.open(client)
    staff = bearer(shop.admin_key)
    shopper = await shop.enrol("Анна", email="anna@example.ru")
    for n in HUGE:
        for method, path, headers in [
            ("GET", f"/api/v1/admin/accounts/{n}", staff),
            ("GET", f"/api/v1/admin/accounts/{n}/reconcile", staff),
            ("GET", f"/api/v1/admin/accounts/{n}/cards", staff),
            ("POST", f"/api/v1/admin/accounts/{n}/cards", staff),
            ("GET", f"/api/v1/admin/campaigns/{n}", staff),
            ("GET", f"/api/v1/admin/campaigns/{n}/preview", staff),
            ("POST", f"/api/v1/admin/campaigns/{n}/cancel", staff),
            ("GET", f"/api/v1/admin/offers/{n}", staff),
            ("POST", f"/api/v1/admin/offers/{n}/end", staff),
            ("GET", f"/api/v1/admin/segments/{n}", staff),
            ("GET", f"/api/v1/admin/segments/{n}/preview", staff),
            ("GET", f"/api/v1/me/offers/{n}/progress", shopper.headers),
            ("GET", f"/api/v1/me/history?before={n * 2**33}", shopper.headers),
        ]:
            reply = await client.request(method, path, headers=headers)
            _refused(reply, f"{method} {path}")
    # In range but unknown: still a plain 404.
    gone = await client.get(f"/api/v1/admin/accounts/{2**31 - 1}", headers=staff)
    assert gone.status_code == 404


async def test_the_history_page_refuses_a_cursor_beyond_the_column(client):
    await join(client, name="Анна", email="anna@example.ru")
    for n in HUGE:
        reply = await client.get(f"/history?before={n * 2**33}")
        _refused(reply, "/history")
    assert (await client.get("/history?before=5")).status_code == 200


async def test_openapi_shows_the_bounds_of_ids():
    from wallet.app import create_app

    schema = create_app(manage_db=False).openapi_schema.to_schema()
    [param] = schema["paths"]["/api/v1/admin/campaigns/{campaign_id}"]["get"]["parameters"]
    assert param["schema"]["maximum"] == 2**31 - 1 and param["schema"]["minimum"] == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_damaged_unsubscribe_token_gets_a_clear_page(client, method):
    token = "1.1.%C3%A9"
    if method == "GET":
        reply = await client.get(f"/unsubscribe?token={token}")
    else:
        reply = await client.post("/unsubscribe", data={"token": "1.1.é"})
    assert reply.status_code == 400, reply.text
    assert "text/html" in reply.headers["content-type"]


async def test_console_and_page_forms_refuse_numbers_that_are_not_numbers(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    await client.post("/console/login", data={"key": key})
    client.cookies.set("wallet_console", key, path="/console")
    csrf = csrf_of((await client.get("/console/campaigns/new")).text)
    for field, value in [("email_rate", "abc"), ("segment_id", "abc"), ("segment_id", "1e99")]:
        reply = await client.post(
            "/console/campaigns",
            data={"csrf": csrf, "name": "Весна", "channel_email": "1", field: value},
        )
        _refused(reply, field)
    assert await db.raw("SELECT id FROM campaign") == []

    client.cookies.clear()
    await join(client, name="Борис", email="boris@example.ru")
    reply = await post_form(client, "/cashback", "/cashback/opt-in", {"offer_id": "abc"})
    _refused(reply, "offer_id")
    reply = await post_form(client, "/cashback", "/cashback/opt-in", {"offer_id": str(2**63)})
    _refused(reply, "offer_id")
    assert shop  # the store exists: the refusals are about the field, not a missing shop


def _nested(depth: int) -> bytes:
    return b'{"name":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("path", ["/api/v1/cards", "/api/v1/admin/segments/preview"])
async def test_json_nested_a_thousand_deep_is_a_bad_request(client, path):
    shop = await Shop.open(client)
    for body in (_nested(1000), b"[" * 2000 + b"]" * 2000):
        reply = await client.post(
            path,
            content=body,
            headers={"content-type": "application/json", **bearer(shop.admin_key)},
        )
        assert reply.status_code == 400, reply.text
        assert reply.json()["code"] == "invalid_request"


async def test_a_segment_with_a_number_no_column_holds_is_refused_and_old_ones_do_not_break_the_console(
    client,
):
    await Shop.open(client)
    key = await make_key("marketer")
    for field in ("balance_min", "spend_min_kopecks", "purchases_min", "burning_points_min"):
        reply = await client.post(
            "/api/v1/admin/segments",
            json={"name": "Богачи", "filter": {field: 99999999999999999999}},
            headers=bearer(key),
        )
        _refused(reply, field)
        assert field in reply.text
    assert await db.raw("SELECT id FROM segment") == []
    # One saved before the bounds existed.
    now = clock.now()
    await db.raw(
        "INSERT INTO segment (name, filter, created_by, created_at, updated_at) "
        "VALUES ({}, {}, {}, {}, {})",
        "Старый",
        '{"balance_min": 99999999999999999999}',
        "key:1",
        now,
        now,
    )
    await client.post("/console/login", data={"key": key})
    client.cookies.set("wallet_console", key, path="/console")
    home = await client.get("/console")
    assert home.status_code == 200, home.text
    assert "Старый" in home.text and "не считается" in home.text
    listed = await client.get("/api/v1/admin/segments", headers=bearer(key))
    assert listed.status_code == 200


async def test_a_receipt_beyond_what_a_till_sells_is_refused_and_a_big_one_earns(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", email="anna@example.ru")
    huge = [line(10_000_000_000, sku=f"S{n}") for n in range(1000)]
    await shop.receipt(anna.card, "HUGE", huge, expect=400)
    over_total = [line(100_000_000, sku=f"S{n}") for n in range(11)]
    refused = await shop.receipt(anna.card, "OVER", over_total, expect=400)
    assert "1000000000" in str(refused)
    await shop.receipt(anna.card, "LINE", [line(100_000_001)], expect=400)
    assert await db.raw("SELECT id FROM receipt") == []
    # The most a till may ring up goes through.
    done = await shop.receipt(anna.card, "MAX", [line(100_000_000, sku=f"S{n}") for n in range(10)])
    assert done["earned_points"] > 0


async def test_points_live_in_64_bit_columns(database):
    if database.kind == "sqlite":
        return  # SQLite's integers are 64-bit whatever the declared type
    rows = await db.raw(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE (table_name, column_name) IN (('account', 'balance'), ('account', 'debt'), "
        "('account', 'pending'), ('lot', 'amount'), ('lot', 'remaining'), "
        "('journal_entry', 'points'), ('receipt', 'earned_points'), "
        "('receipt', 'redeemed_points'), ('receipt', 'refunded_points'), "
        "('receipt_line', 'earned_points'), ('receipt_line', 'returned_earned_points'), "
        "('offer', 'cap_points'), ('offer_goal_month', 'reward_points'), "
        "('offer_burn_reminder', 'points'))"
    )
    assert len(rows) == 14
    assert {row["data_type"] for row in rows} == {"bigint"}
