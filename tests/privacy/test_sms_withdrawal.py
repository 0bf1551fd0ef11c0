"""Withdrawing marketing SMS is one click, like email and messages on the card: a box on
the card page and a field of ``PATCH /api/v1/me``; each change is a row of the consent
trail, and an SMS already queued for a campaign is not sent. On SQLite and PostgreSQL."""

from __future__ import annotations

from tests.campaigns.test_sms_campaigns import CONSENTS, DAY, at, campaign, sms_campaign
from tests.sms.conftest import smsc  # noqa: F401
from tests.support.shop import bearer, make_key
from wallet import db
from wallet.platform import worker


async def test_a_shopper_withdraws_marketing_sms_through_the_api_and_a_queued_sms_never_goes(
    client,
    smsc,  # noqa: F811
    monkeypatch,
):
    at(monkeypatch, DAY)
    key = await make_key("marketer")
    joined = {}
    for name, phone in (("Анна", "+79161110001"), ("Борис", "+79161110002")):
        reply = await client.post(
            "/api/v1/cards",
            json={"name": name, "phone": phone, "consents": {**CONSENTS, "marketing_sms": True}},
        )
        assert reply.status_code == 201, reply.text
        joined[name] = {"Authorization": f"Bearer {reply.json()['shopper_token']}"}
    assert (await client.get("/api/v1/me", headers=joined["Анна"])).json()["marketing_sms"]
    campaign_id = (await sms_campaign(client, key)).json()["id"]
    sent = await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    assert sent.status_code == 200, sent.text
    await worker.run_once(now=DAY)  # the audience is queued

    off = await client.patch("/api/v1/me", json={"marketing_sms": False}, headers=joined["Анна"])
    assert off.status_code == 200, off.text
    assert off.json()["marketing_sms"] is False
    await worker.run_until_idle(now=DAY)

    assert [s.destination for s in smsc.submits] == ["79161110002"]
    [figures] = (await campaign(client, key, campaign_id))["figures"]
    assert figures["reasons"] == {"skipped: consent_withdrawn": 1}
    trail = (await client.get("/api/v1/me/export", headers=joined["Анна"])).json()["consents"]
    last = [c for c in trail if c["channel"] == "marketing_sms"][-1]
    assert (last["granted"], last["source"]) == (False, "api")


async def test_the_card_page_has_a_box_for_marketing_sms(client):
    from tests.pages.conftest import join, post_form

    await join(client, name="Анна", email="anna@example.ru")
    page = (await client.get("/card")).text
    assert 'id="marketing-sms"' in page and 'id="marketing-sms" checked' not in page
    assert "Присылать предложения в SMS" in page
    await post_form(client, "/card", "/card/consents", {"marketing_sms": "1"})
    assert 'id="marketing-sms" checked' in (await client.get("/card")).text
    await post_form(client, "/card", "/card/consents", {})
    assert 'id="marketing-sms" checked' not in (await client.get("/card")).text
    rows = await db.raw(
        "SELECT granted, source FROM member_consent WHERE channel = 'marketing_sms' ORDER BY id"
    )
    assert [(bool(r["granted"]), r["source"]) for r in rows][-2:] == [
        (True, "card_page"),
        (False, "card_page"),
    ]


async def test_an_erased_shoppers_marketing_sms_held_for_the_night_never_goes(
    client,
    smsc,  # noqa: F811
    monkeypatch,
):
    from datetime import UTC, datetime, timedelta

    from tests.campaigns.test_sms_campaigns import MSK
    from tests.support.shop import Shop

    night = datetime(2026, 12, 2, 22, 30, tzinfo=MSK).astimezone(UTC)
    at(monkeypatch, night)
    shop = await Shop.open(client)
    key = await make_key("marketer")
    tokens = {}
    for name, phone in (("Анна", "+79161110001"), ("Борис", "+79161110002")):
        reply = await client.post(
            "/api/v1/cards",
            json={"name": name, "phone": phone, "consents": {**CONSENTS, "marketing_sms": True}},
        )
        assert reply.status_code == 201, reply.text
        tokens[name] = {"Authorization": f"Bearer {reply.json()['shopper_token']}"}
    export = await client.get("/api/v1/me/export", headers=tokens["Анна"])
    member_id = export.json()["profile"]["member_id"]
    campaign_id = (await sms_campaign(client, key)).json()["id"]
    await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    await worker.run_until_idle(now=night)
    assert smsc.submits == []  # quiet hours: held until 09:00

    erased = await client.post(
        f"/api/v1/admin/members/{member_id}/erase",
        json={"reason": "letter 18"},
        headers=bearer(shop.support_key),
    )
    assert erased.status_code == 200, erased.text
    morning = night + timedelta(hours=11)
    at(monkeypatch, morning)
    await worker.run_until_idle(now=morning)
    assert [s.destination for s in smsc.submits] == ["79161110002"]
    [figures] = (await campaign(client, key, campaign_id))["figures"]
    assert figures["reasons"] == {"skipped: consent_withdrawn": 1}


async def test_the_export_lists_the_service_sms_sent_to_the_shopper_without_their_text(
    client,
    smsc,  # noqa: F811
    monkeypatch,
):
    from tests.sms.test_smpp import rows, settle

    at(monkeypatch, DAY)
    reply = await client.post(
        "/api/v1/cards",
        json={"name": "Анна", "phone": "+79161110001", "consents": CONSENTS},
    )
    assert reply.status_code == 201, reply.text
    token = {"Authorization": f"Bearer {reply.json()['shopper_token']}"}
    asked = await client.post("/api/v1/signin/code", json={"phone": "+79161110001"})
    assert asked.status_code == 202, asked.text
    await worker.run_until_idle(now=DAY)
    [code_sms] = smsc.texts_to("79161110001")

    async def delivered() -> bool:
        return all(r["status"] == "delivered" for r in await rows())

    await settle(delivered)
    export = await client.get("/api/v1/me/export", headers=token)
    [message] = export.json()["messages"]
    assert (message["channel"], message["kind"], message["status"]) == (
        "sms",
        "signin",
        "delivered",
    )
    assert message["sent_at"] and message["consent_id"] is None
    code = "".join(ch for ch in code_sms if ch.isdigit())
    assert code and code not in export.text
