"""A shopper cannot tell another shopper's card from a number that does not exist."""

from __future__ import annotations

import pytest

from tests.support.shop import Shop
from wallet import codes


@pytest.mark.parametrize("kind", ["png", "svg"])
async def test_someone_elses_card_and_an_unknown_card_get_the_same_404(client, kind):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", email="anna@example.ru")
    ivan = await shop.enrol("Иван", email="ivan@example.ru")
    body = codes.CARD_PREFIX + "0" * 13
    unknown = body + codes.luhn_check_digit(body)
    own = await client.get(f"/api/v1/me/cards/{anna.card}/qr.{kind}", headers=anna.headers)
    assert own.status_code == 200
    theirs = await client.get(f"/api/v1/me/cards/{ivan.card}/qr.{kind}", headers=anna.headers)
    nobody = await client.get(f"/api/v1/me/cards/{unknown}/qr.{kind}", headers=anna.headers)
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json()["code"] == nobody.json()["code"] == "card_not_found"
    assert theirs.json()["message"] == nobody.json()["message"]
