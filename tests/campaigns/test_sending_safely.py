"""Sending safely through the admin API: a past time refused, who each channel reaches
shown before sending, a campaign that reached nobody not called sent, cancelling recorded
with its author, copying; on both databases."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.campaigns.test_campaigns import campaign, enrol, figures
from tests.passsync.conftest import Phone, download_pass
from tests.support.shop import Shop, bearer, iso, make_key
from wallet import clock, db
from wallet.members import service as members
from wallet.members.tables import Member
from wallet.platform import worker

EMAIL = {"marketing_email": True}


async def _unsubscribe(account_id: int, channel: str) -> None:
    row = await Member.select(Member.id).where(Member.account == account_id).first()
    assert row is not None
    async with db.write_transaction():
        await members.set_marketing_consent(
            row["id"], channel, False, now=clock.now(), source="unsubscribe"
        )


async def test_a_time_in_the_past_is_refused_in_russian_with_the_program_zone(client, smtp_sink):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    await enrol(shop, "Анна", "a@example.ru", consents=EMAIL)
    created = await campaign(client, key)
    past = clock.now() - timedelta(hours=2)
    reply = await client.post(
        f"/api/v1/admin/campaigns/{created['id']}/schedule",
        json={"at": iso(past)},
        headers=bearer(key),
    )
    assert reply.status_code == 422, reply.text
    error = reply.json()
    assert error["code"] == "schedule_in_the_past"
    shown = past.astimezone(ZoneInfo("Europe/Moscow"))
    assert shown.strftime("%d.%m.%Y %H:%M") in error["message"]
    assert "по московскому времени (UTC+3)" in error["message"]
    assert error["details"]["time_zone"] == "Europe/Moscow"
    # Nothing changed and nothing goes.
    assert (await figures(client, key, created["id"]))["status"] == "draft"
    await worker.run_until_idle()
    assert smtp_sink.messages == []

    # The minute being typed is not the past; a time later today is scheduled.
    now_ok = await client.post(
        f"/api/v1/admin/campaigns/{created['id']}/schedule",
        json={"at": iso(clock.now() - timedelta(seconds=30))},
        headers=bearer(key),
    )
    assert now_ok.status_code == 200 and now_ok.json()["status"] == "scheduled"


async def test_the_preview_says_who_each_channel_reaches_and_why_the_others_not(
    client, wallets, smtp_sink
):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    both = await enrol(
        shop, "Анна Оба", "anna@example.ru", consents={**EMAIL, "marketing_push": True}
    )
    await enrol(shop, "Борис Молчун", "boris@example.ru")
    gone = await enrol(shop, "Вера Ушедшая", "vera@example.ru", consents=EMAIL)
    await enrol(shop, "Глеб Без Почты", None, consents={"marketing_push": True})
    await _unsubscribe(gone.account_id, "email")
    phone = Phone(client, device_id="a" * 32, push_token="a1" * 32)
    assert (await phone.register(await download_pass(shop, both))).status_code == 201

    created = await campaign(
        client, key, channels=["email", "push"], push_header="Скидки", push_text="Скидки"
    )
    reply = await client.get(
        f"/api/v1/admin/campaigns/{created['id']}/preview", headers=bearer(key)
    )
    assert reply.status_code == 200, reply.text
    shown = reply.json()
    assert shown["audience"] == 4
    # Anna on both channels; nobody else on either.
    assert shown["reachable"] == 1
    email, push = shown["channels"]
    assert email == {
        "channel": "email",
        "reachable": 1,
        "unreachable": {"no_consent": 1, "unsubscribed": 1, "no_email": 1},
    }
    assert push == {
        "channel": "push",
        "reachable": 1,
        "unreachable": {"no_consent": 2, "no_wallet": 1},
    }

    # Sent, the figures give the same reasons the forecast gave.
    await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    data = await figures(client, key, created["id"])
    sent_email, sent_push = data["figures"]
    assert (sent_email["sent"], sent_push["sent"]) == (1, 1)
    assert sent_email["reasons"] == {
        "skipped: no_consent": 1,
        "skipped: unsubscribed": 1,
        "skipped: no_email": 1,
    }
    assert sent_push["reasons"] == {"skipped: no_consent": 2, "skipped: no_wallet": 1}


async def test_a_push_campaign_that_reached_nobody_does_not_end_as_sent(client, wallets):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    # Consented to pass messages, but no pass in any wallet.
    await enrol(shop, "Анна Без Карты", "anna@example.ru", consents={"marketing_push": True})
    created = await campaign(client, key, channels=["push"], push_text="Скидки")
    await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    data = await figures(client, key, created["id"])
    assert data["status"] == "undelivered"
    assert data["figures"][0]["reasons"] == {"skipped: no_wallet": 1}
    assert data["finished_at"] is not None


async def test_a_cancelled_campaign_says_who_cancelled_it_and_a_copy_is_a_new_draft(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    await enrol(shop, "Анна", "a@example.ru", consents=EMAIL)
    created = await campaign(client, key, name="Осень")
    await client.post(
        f"/api/v1/admin/campaigns/{created['id']}/schedule",
        json={"at": iso(clock.now() + timedelta(days=1))},
        headers=bearer(key),
    )
    stop = await client.post(f"/api/v1/admin/campaigns/{created['id']}/cancel", headers=bearer(key))
    assert stop.status_code == 200
    data = stop.json()
    assert data["status"] == "cancelled" and data["cancelled_at"] is not None
    assert data["cancelled_by"].startswith("marketer:")

    copied = await client.post(f"/api/v1/admin/campaigns/{created['id']}/copy", headers=bearer(key))
    assert copied.status_code == 201, copied.text
    copy = copied.json()
    assert copy["id"] != created["id"] and copy["status"] == "draft"
    assert copy["name"] == "Копия: Осень"
    assert (copy["subject"], copy["body"], copy["channels"]) == (
        created["subject"],
        created["body"],
        created["channels"],
    )
    assert copy["cancelled_at"] is None and copy["cancelled_by"] == ""
    missing = await client.post("/api/v1/admin/campaigns/999999/copy", headers=bearer(key))
    assert missing.status_code == 404
