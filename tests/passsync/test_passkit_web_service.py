"""Apple's PassKit web service, the whole sequence a phone goes through."""

from __future__ import annotations

from tests.passsync.conftest import Phone, download_pass
from tests.support.shop import Shop, line
from wallet.platform import worker


async def test_passkit_web_service_conformance_sequence(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    assert card.web_service_url == "https://testserver.local/passkit"
    phone = Phone(client, device_id="a1b2c3d4e5f60718293a4b5c6d7e8f90", push_token="ff" * 32)

    assert (await phone.register(card)).status_code == 201
    assert (await phone.register(card)).status_code == 200
    assert (await phone.register(card, token="x" * 43)).status_code == 401

    listed = await phone.changed(card)
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [card.serial]
    tag = listed.json()["lastUpdated"]
    assert isinstance(tag, str)
    assert (await phone.changed(card, since=tag)).status_code == 204

    await shop.receipt(shopper.card, "R-1", [line(100_000)])
    await worker.run_until_idle()
    assert len(wallets.apns.to(phone.push_token)) == 1

    listed = await phone.changed(card, since=tag)
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [card.serial]
    assert int(listed.json()["lastUpdated"]) > int(tag)

    fetched = await phone.fetch(card)
    assert fetched.status_code == 200
    assert fetched.headers["content-type"].startswith("application/vnd.apple.pkpass")
    modified = fetched.headers["last-modified"]
    not_modified = await phone.fetch(card, if_modified_since=modified)
    assert not_modified.status_code == 304, not_modified.text
    assert (await phone.fetch(card, token="y" * 43)).status_code == 401

    assert (await phone.unregister(card)).status_code == 200
    await shop.receipt(shopper.card, "R-2", [line(50_000)])
    await worker.run_until_idle()
    assert len(wallets.apns.to(phone.push_token)) == 1

    assert (await phone.log(card, ["Could not fetch pass: timeout"])).status_code == 200
