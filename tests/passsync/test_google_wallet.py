"""Google Wallet: the save link, the object inserted on first save, PATCHed on change,
Google's 404/409/429 answers, and messages within Google's notification quota."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from tests.passsync.conftest import Phone, download_pass, local, wallets_holding
from tests.support.shop import Shop, Shopper, line
from wallet import clock, db
from wallet.passsync import messages
from wallet.platform import worker


def _jwt_claims(url: str) -> dict[str, Any]:
    token = url.removeprefix("https://pay.google.com/gp/v/save/")
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


async def _save(shop: Shop, shopper: Shopper) -> str:
    me = await shop.me(shopper)
    reply = await shop.client.get(local(me["links"]["google_save"]))
    assert reply.status_code == 302, reply.text
    location = reply.headers["location"]
    assert location.startswith("https://pay.google.com/gp/v/save/")
    return location


async def test_saving_inserts_the_object_and_a_receipt_patches_its_balance(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    claims = _jwt_claims(await _save(shop, shopper))
    assert claims["aud"] == "google" and claims["typ"] == "savetowallet"
    [obj] = claims["payload"]["loyaltyObjects"]
    await worker.run_until_idle()
    google = wallets.google
    assert google.statuses("POST", "loyaltyClass") == [200]
    assert google.statuses("POST", "loyaltyObject") == [200]
    assert obj["id"] in google.objects

    await shop.receipt(shopper.card, "R-1", [line(100_000)])
    await worker.run_until_idle()
    assert google.statuses("PATCH") == [200]
    me = await shop.me(shopper)
    assert google.objects[obj["id"]]["loyaltyPoints"]["balance"]["int"] == me["balance"] > 0
    assert google.problems == []
    assert await wallets_holding(shopper.account_id) == {"google"}
    # Saved again later: the link now carries a short reference to the inserted object.
    again = _jwt_claims(await _save(shop, shopper))
    assert again["payload"]["loyaltyObjects"] == [{"id": obj["id"], "classId": obj["classId"]}]


async def test_an_object_google_does_not_know_is_inserted_when_a_patch_gets_404(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    claims = _jwt_claims(await _save(shop, shopper))
    object_id = claims["payload"]["loyaltyObjects"][0]["id"]
    await worker.run_until_idle()
    del wallets.google.objects[object_id]  # the issuer's objects were purged on Google's side

    await shop.receipt(shopper.card, "R-1", [line(100_000)])
    await worker.run_until_idle()
    assert wallets.google.statuses("PATCH") == [404]
    assert wallets.google.statuses("POST", "loyaltyObject") == [200, 200]
    assert object_id in wallets.google.objects


async def test_an_object_google_made_from_the_save_link_is_patched_on_409(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    # Google's API is down when the shopper taps Save: the link carries the object itself.
    wallets.google.fail_next = [503]
    claims = _jwt_claims(await _save(shop, shopper))
    obj = claims["payload"]["loyaltyObjects"][0]
    assert obj["state"] == "ACTIVE" and "barcode" in obj
    wallets.google.objects[obj["id"]] = obj  # Google made it from the link
    # Saved again: Google holds the object (409), so the link is a reference to it.
    again = _jwt_claims(await _save(shop, shopper))
    assert again["payload"]["loyaltyObjects"] == [{"id": obj["id"], "classId": obj["classId"]}]
    await worker.run_until_idle()
    assert wallets.google.statuses("POST", "loyaltyObject") == [409, 409]
    assert wallets.google.statuses("PATCH") == [200]


async def test_google_429_is_retried_later(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    wallets.google.fail_next = [429, 429]
    await _save(shop, shopper)  # the save's own insert meets the first 429
    now = clock.now()
    await worker.run_until_idle(now=now)
    assert wallets.google.objects == {}
    await worker.run_until_idle(now=now + timedelta(seconds=5))
    assert len(wallets.google.objects) == 1
    assert [c.status for c in wallets.google.calls] == [429, 429, 200, 200]


async def test_a_message_rings_google_three_times_a_day_then_goes_silent_and_shows_on_apple(
    client, wallets
):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="9" * 32, push_token="99" * 32)
    assert (await phone.register(card)).status_code == 201
    await _save(shop, shopper)
    await worker.run_until_idle()

    results = []
    for n in range(4):
        async with db.write_transaction():
            results.append(
                await messages.push_messages(
                    [
                        messages.PushMessage(
                            account_id=shopper.account_id,
                            header="Скидки",
                            text=f"Неделя скидок {n}",
                            message_id=f"campaign-{n}",
                        )
                    ],
                    now=clock.now(),
                )
            )
        await worker.run_until_idle()
    outcomes = [r[shopper.account_id] for r in results]
    assert [o.google for o in outcomes] == ["notify", "notify", "notify", "text"]
    assert all(o.apple_devices == 1 for o in outcomes)
    [kept] = wallets.google.messages.values()
    assert [m["messageType"] for m in kept] == ["TEXT_AND_NOTIFY"] * 3 + ["TEXT"]
    assert wallets.google.problems == []

    # Apple: each message changed the pass, so the phone was told and gets the text.
    assert len(wallets.apns.to(phone.push_token)) == 4
    fetched = await phone.fetch(card)
    from tests.passsync.conftest import read_pkpass

    back = read_pkpass(fetched.content).json["storeCard"]["backFields"]
    message = next(f for f in back if f["key"] == "message")
    assert message["value"] == "Скидки. Неделя скидок 3"
    assert message["changeMessage"] == "%@"
    assert await wallets_holding(shopper.account_id) == {"apple", "google"}
