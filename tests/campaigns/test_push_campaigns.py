"""Wallet push campaigns into the APNs and Google Wallet stand-ins (pass sync's)."""

from __future__ import annotations

from tests.campaigns.test_campaigns import campaign, enrol, figures
from tests.passsync.conftest import Phone, download_pass, local
from tests.support.shop import Shop, Shopper, bearer, make_key
from wallet.platform import worker

PUSH = {"marketing_push": True}


async def _save_to_google(shop: Shop, shopper: Shopper) -> None:
    me = await shop.me(shopper)
    reply = await shop.client.get(local(me["links"]["google_save"]))
    assert reply.status_code == 302, reply.text


async def test_a_push_campaign_updates_each_pass_once_and_pushes_once_per_device(client, wallets):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    both = await enrol(shop, "Анна Оба", "anna@example.ru", consents=PUSH)
    apple = await enrol(shop, "Борис Эппл", "boris@example.ru", consents=PUSH)
    await enrol(shop, "Вера Без Карты", "vera@example.ru", consents=PUSH)
    silent = await enrol(shop, "Глеб Без Согласия", "gleb@example.ru")
    phones = {
        "iphone": Phone(client, device_id="a" * 32, push_token="a1" * 32),
        "watch": Phone(client, device_id="b" * 32, push_token="b1" * 32),
        "boris": Phone(client, device_id="c" * 32, push_token="c1" * 32),
        "gleb": Phone(client, device_id="d" * 32, push_token="d1" * 32),
    }
    both_pass = await download_pass(shop, both)
    assert (await phones["iphone"].register(both_pass)).status_code == 201
    assert (await phones["watch"].register(both_pass)).status_code == 201
    assert (await phones["boris"].register(await download_pass(shop, apple))).status_code == 201
    assert (await phones["gleb"].register(await download_pass(shop, silent))).status_code == 201
    await _save_to_google(shop, both)
    await worker.run_until_idle()
    wallets.apns.pushes.clear()

    created = await campaign(
        client,
        key,
        channels=["push"],
        push_header="Скидки",
        push_text="{{ name }}, неделя скидок",
        email_rate=0,
    )
    await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    await worker.run_until_idle()

    tokens = sorted(p.token for p in wallets.apns.pushes)
    assert tokens == sorted(phones[n].push_token for n in ("iphone", "watch", "boris"))
    fetched = await phones["iphone"].fetch(both_pass)
    from tests.passsync.conftest import read_pkpass

    back = read_pkpass(fetched.content).json["storeCard"]["backFields"]
    message = next(f for f in back if f["key"] == "message")
    assert message["value"].endswith("Анна Оба, неделя скидок")
    assert message["changeMessage"] == "%@"
    [kept] = wallets.google.messages.values()
    assert [m["messageType"] for m in kept] == ["TEXT_AND_NOTIFY"]
    data = await figures(client, key, created["id"])
    [push] = data["figures"]
    assert (push["targeted"], push["sent"], push["skipped"]) == (4, 2, 2)
    assert push["reasons"] == {"skipped: no_consent": 1, "skipped: no_wallet": 1}

    # Three more campaigns the same day: Google rings three times, then shows silently.
    for n in range(3):
        more = await campaign(
            client, key, name=f"Ещё {n}", channels=["push"], push_text=f"Новость {n}"
        )
        await client.post(f"/api/v1/admin/campaigns/{more['id']}/send", headers=bearer(key))
        await worker.run_until_idle()
    [kept] = wallets.google.messages.values()
    assert [m["messageType"] for m in kept] == ["TEXT_AND_NOTIFY"] * 3 + ["TEXT"]
    assert wallets.google.problems == []
