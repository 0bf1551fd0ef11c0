"""A blocked or replaced card's pass stops working on the phone: Apple's copy is voided and
pushed to every device that holds it, Google's object turns INACTIVE."""

from __future__ import annotations

import pytest

from tests.passsync.conftest import Phone, download_pass, local, read_pkpass
from tests.support.shop import Shop, bearer
from wallet.platform import worker


async def _save_to_google(shop: Shop, shopper) -> None:  # type: ignore[no-untyped-def]
    me = await shop.me(shopper)
    reply = await shop.client.get(local(me["links"]["google_save"]))
    assert reply.status_code == 302, reply.text


@pytest.mark.parametrize("action", ["block", "replace"])
async def test_a_blocked_or_replaced_card_voids_its_passes_on_the_phones(client, wallets, action):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="b" * 32, push_token="ab" * 32)
    assert (await phone.register(card)).status_code == 201
    await _save_to_google(shop, shopper)
    await worker.run_until_idle()
    assert read_pkpass((await phone.fetch(card)).content).json.get("voided") is None
    pushes_before = len(wallets.apns.to(phone.push_token))

    reply = await client.post(
        f"/api/v1/admin/cards/{shopper.card}/{action}",
        json={"reason": "lost"},
        headers=bearer(shop.support_key),
    )
    assert reply.status_code == 200, reply.text
    await worker.run_until_idle()

    # Apple: the device is told, asks what changed, and gets a voided pass.
    assert len(wallets.apns.to(phone.push_token)) == pushes_before + 1
    changed = await phone.changed(card)
    assert changed.status_code == 200 and card.serial in changed.json()["serialNumbers"]
    fetched = await phone.fetch(card)
    assert fetched.status_code == 200
    assert read_pkpass(fetched.content).json["voided"] is True
    # Google: the object is patched to INACTIVE.
    [patch] = [c for c in wallets.google.calls if c.method == "PATCH"]
    assert patch.status == 200 and patch.body["state"] == "INACTIVE"
    [obj] = wallets.google.objects.values()
    assert obj["state"] == "INACTIVE"
    assert wallets.google.problems == []
