"""One shopper or one marketer text that cannot become a message must not hold up, or
double, anybody else's mail; bad texts are refused at the door."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from tests.campaigns.test_campaigns import campaign, enrol, figures
from tests.support.shop import Shop, bearer, make_key
from wallet import clock, db
from wallet.platform import worker

POISON = "Eve\r\nBcc: evil@example.com"


async def test_a_poisoned_message_fails_alone_and_everyone_else_gets_one_copy(client, smtp_sink):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    yes = {"marketing_email": True}
    shoppers = [
        await enrol(shop, f"Покупатель {n}", f"q{n}@example.ru", consents=yes) for n in range(6)
    ]
    # An old row from before names were checked at enrolment.
    await db.raw("UPDATE member SET name = {} WHERE account = {}", POISON, shoppers[2].account_id)
    created = await campaign(client, key)
    await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    # Seventeen minutes of a worker retrying whatever is due.
    start = clock.now()
    for minute in range(0, 18):
        await worker.run_until_idle(now=start + timedelta(minutes=minute))

    copies = Counter(m["To"] for m in smtp_sink.messages)
    assert copies == {f"q{n}@example.ru": 1 for n in range(6) if n != 2}
    assert not any("evil@example.com" in str(m) for m in smtp_sink.messages)
    rows = await db.raw(
        "SELECT status, reason FROM delivery WHERE account_id = {}", shoppers[2].account_id
    )
    assert [row["status"] for row in rows] == ["failed"]
    assert rows[0]["reason"], "the failure says why"
    data = await figures(client, key, created["id"])
    assert data["status"] == "sent"
    assert data["figures"][0]["sent"] == 5 and data["figures"][0]["failed"] == 1


CONTROL = [
    "Eve\r\nBcc: evil@example.com",
    "Eve\n",
    "Tab\there",
    "Bell\x07",
    "C1\x85x",
    "Sep\u2028x",
]


async def test_names_and_subjects_with_control_characters_are_refused_with_the_field(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    for name in CONTROL:
        reply = await client.post(
            "/api/v1/cards",
            json={
                "name": name,
                "email": "eve@example.ru",
                "consents": {"program": True, "personal_data": True, "terms_version": "2026-01"},
            },
        )
        assert reply.status_code == 422, (name, reply.text)
        assert reply.json()["code"] == "control_characters"
        assert reply.json()["details"]["field"] == "name"
    assert await db.raw("SELECT id FROM member") == []
    refused = {
        "subject": "Hi\r\nBcc: evil@example.com",
        "name": "Spring\nsale",
        "push_header": "A\u2029B",
    }
    for field, value in refused.items():
        reply = await client.post(
            "/api/v1/admin/campaigns",
            json={"name": "Весна", **{field: value}},
            headers=bearer(key),
        )
        assert reply.status_code == 422, (field, reply.text)
        assert reply.json()["details"]["field"] == field
    # A body is text: paragraphs are fine, other control characters are not.
    fine = await campaign(client, key, body="Первый абзац.\r\n\r\nВторой\tабзац.")
    assert fine["body"].startswith("Первый")
    bad = await client.post(
        "/api/v1/admin/campaigns", json={"name": "B", "body": "x\x00y"}, headers=bearer(key)
    )
    assert bad.status_code == 422 and bad.json()["details"]["field"] == "body"
    segment = await client.post(
        "/api/v1/admin/segments", json={"name": "A\nB", "filter": {}}, headers=bearer(key)
    )
    assert segment.status_code == 422 and segment.json()["details"]["field"] == "name"
    store = await client.post(
        "/api/v1/admin/stores",
        json={"code": "SPB-1", "name": "Невский\r\n"},
        headers=bearer(shop.admin_key),
    )
    assert store.status_code == 422 and store.json()["details"]["field"] == "name"
    assert len(await db.raw("SELECT id FROM campaign")) == 1


async def test_a_test_send_to_an_address_with_a_header_in_it_is_refused(client, smtp_sink):
    await Shop.open(client)
    key = await make_key("marketer")
    created = await campaign(client, key)
    reply = await client.post(
        f"/api/v1/admin/campaigns/{created['id']}/test",
        json={"email": "x@example.ru\nBcc: y@example.ru"},
        headers=bearer(key),
    )
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["code"] in ("invalid_request", "control_characters")
    assert smtp_sink.messages == []


def test_a_sender_with_a_line_break_stops_the_service_at_start(monkeypatch):
    import pytest

    from wallet import settings

    monkeypatch.setenv("WALLET_MAIL_FROM", "Shop <a@example.ru>\r\nBcc: evil@example.com")
    with pytest.raises(SystemExit, match="WALLET_MAIL_FROM"):
        settings.load()
    monkeypatch.setenv("WALLET_MAIL_FROM", "Магазин <a@example.ru>")
    assert settings.load().mail_from == "Магазин <a@example.ru>"
