"""Apple's PassKit web service, the whole sequence a phone goes through."""

from __future__ import annotations

from datetime import timedelta

from tests.passsync.conftest import Phone, download_pass, local
from tests.support.shop import Shop, line
from wallet import clock
from wallet.passsync import links
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


async def test_a_device_lists_only_its_own_passes_and_an_unknown_device_gets_204(client, wallets):
    shop = await Shop.open(client)
    anna, boris = await shop.enrol("Анна Смирнова"), await shop.enrol("Борис Петров")
    anna_pass, boris_pass = await download_pass(shop, anna), await download_pass(shop, boris)
    annas = Phone(client, device_id="6" * 32, push_token="61" * 32)
    boriss = Phone(client, device_id="7" * 32, push_token="71" * 32)
    assert (await annas.register(anna_pass)).status_code == 201
    assert (await boriss.register(boris_pass)).status_code == 201
    # A token of one pass does not open another.
    assert (await annas.register(boris_pass, token=anna_pass.token)).status_code == 401

    tag = (await annas.changed(anna_pass)).json()["lastUpdated"]
    await shop.receipt(anna.card, "R-1", [line(10_000)])
    await shop.receipt(boris.card, "R-2", [line(10_000)])
    await worker.run_until_idle()
    assert (await annas.changed(anna_pass, since=tag)).json()["serialNumbers"] == [anna_pass.serial]
    stranger = Phone(client, device_id="8" * 32, push_token="81" * 32)
    assert (await stranger.changed(anna_pass)).status_code == 204


async def test_pass_links_are_signed_and_short_lived(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    me = await shop.me(shopper)
    link = local(me["links"]["apple_pass"])
    forged = link.replace("sig=", "sig=x")
    assert (await client.get(forged)).status_code == 401
    other = await shop.enrol("Борис Петров")
    stolen = link.replace(shopper.card, other.card)
    assert (await client.get(stolen)).status_code == 401
    old = links.apple_pass_link(shopper.card, now=clock.now() - timedelta(hours=2))
    assert (await client.get(local(old))).status_code == 401
    assert (await client.get(link)).status_code == 200
