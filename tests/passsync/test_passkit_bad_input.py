"""What strangers and broken devices send to the PassKit web service: tags the service never
gave and log floods. Apple's protocol leaves these routes unauthenticated."""

from __future__ import annotations

import pytest

from tests.passsync.conftest import Phone, download_pass
from tests.support.shop import Shop


@pytest.mark.parametrize("since", ["²", "9" * 20, "99999999999999999999999999", "-1", "abc", ""])
async def test_a_tag_the_service_never_gave_lists_every_pass_of_the_device(client, wallets, since):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="c" * 32, push_token="cd" * 32)
    assert (await phone.register(card)).status_code == 201

    listed = await phone.changed(card, since=since)

    assert listed.status_code == 200, listed.text
    assert listed.json()["serialNumbers"] == [card.serial]
    # The tag it gets back is one of ours, so its next question is a normal one.
    assert (await phone.changed(card, since=listed.json()["lastUpdated"])).status_code == 204
