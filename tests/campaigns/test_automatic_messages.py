"""Automatic messages (welcome, birthday) as system campaigns: delivery rows per occasion,
sent by the campaign send job with its consent checks and figures, once per occasion."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.campaigns.test_campaigns import enrol, figures
from tests.passsync.conftest import Phone, download_pass
from tests.support.shop import Shop, bearer, make_key
from wallet import clock, settings
from wallet.platform import worker


async def switch_on(client: Any, key: str, kind: str) -> dict[str, Any]:
    reply = await client.post(f"/api/v1/admin/campaigns/automatic/{kind}", headers=bearer(key))
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def by_channel(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["channel"]: f for f in data["figures"]}


async def test_welcome_goes_once_to_each_new_shopper_who_consented(client, smtp_sink):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    # Switched off (the default): nobody is welcomed.
    await enrol(shop, "Ранний Участник", "early@example.ru", consents={"marketing_email": True})
    await worker.run_until_idle()
    assert smtp_sink.to("early@example.ru") == []

    welcome = await switch_on(client, key, "welcome")
    assert welcome["kind"] == "welcome" and welcome["status"] == "sending"
    assert (await switch_on(client, key, "welcome"))["id"] == welcome["id"]
    await enrol(shop, "Анна Новая", "anna@example.ru", consents={"marketing_email": True})
    await enrol(shop, "Борис Молчун", "boris@example.ru")
    await worker.run_until_idle()
    # The minute schedule runs again and again: still one welcome each.
    for minutes in (1, 2, 3):
        await worker.run_until_idle(now=clock.now() + timedelta(minutes=minutes))

    [anna] = smtp_sink.to("anna@example.ru")
    assert anna["Subject"] == "Анна Новая, добро пожаловать в программу лояльности"
    assert anna["List-Unsubscribe"]
    assert smtp_sink.to("boris@example.ru") == []
    # The shopper who joined within the last day before it was switched on is welcomed too.
    assert len(smtp_sink.to("early@example.ru")) == 1
    email = by_channel(await figures(client, key, welcome["id"]))["email"]
    assert (email["targeted"], email["sent"], email["skipped"]) == (3, 2, 1)
    assert email["reasons"] == {"skipped: no_consent": 1}

    # Switched off, new shoppers are not welcomed; switched on again, they are.
    await client.post(f"/api/v1/admin/campaigns/{welcome['id']}/cancel", headers=bearer(key))
    await enrol(shop, "Вера Поздняя", "vera@example.ru", consents={"marketing_email": True})
    await worker.run_until_idle(now=clock.now() + timedelta(minutes=5))
    assert smtp_sink.to("vera@example.ru") == []
    await switch_on(client, key, "welcome")
    await worker.run_until_idle(now=clock.now() + timedelta(minutes=6))
    assert len(smtp_sink.to("vera@example.ru")) == 1

    reply = await client.post("/api/v1/admin/campaigns/automatic/nope", headers=bearer(key))
    assert reply.status_code == 422


async def test_birthday_greets_todays_birthdays_by_email_and_on_the_pass(
    client, smtp_sink, wallets
):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    zone = settings.get().tz
    today = clock.now().astimezone(zone).date()
    other = today + timedelta(days=1) if today.day < 28 else today - timedelta(days=1)
    both = {"marketing_email": True, "marketing_push": True}
    hero = await enrol(
        shop, "Анна Именинница", "anna@example.ru", birthday=f"1990-{today:%m-%d}", consents=both
    )
    await enrol(
        shop, "Борис Завтра", "boris@example.ru", birthday=f"1990-{other:%m-%d}", consents=both
    )
    await enrol(shop, "Вера Без Даты", "vera@example.ru", consents=both)
    phone = Phone(client, device_id="e" * 32, push_token="e1" * 32)
    assert (await phone.register(await download_pass(shop, hero))).status_code == 201
    await worker.run_until_idle()
    wallets.apns.pushes.clear()
    birthday = await switch_on(client, key, "birthday")

    nine_thirty = clock.to_utc(datetime(today.year, today.month, today.day, 9, 30, tzinfo=zone))
    for later in (0, 2, 5):
        await worker.run_until_idle(now=max(clock.now(), nine_thirty) + timedelta(hours=later))

    [greeting] = smtp_sink.to("anna@example.ru")
    assert "с днём рождения" in greeting["Subject"]
    assert smtp_sink.to("boris@example.ru") == smtp_sink.to("vera@example.ru") == []
    assert [p.token for p in wallets.apns.pushes] == [phone.push_token]
    data = by_channel(await figures(client, key, birthday["id"]))
    assert (data["email"]["targeted"], data["email"]["sent"]) == (1, 1)
    assert (data["push"]["targeted"], data["push"]["sent"]) == (1, 1)
