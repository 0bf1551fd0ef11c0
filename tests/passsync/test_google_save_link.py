""" "Save to Google Wallet" works for every shopper of a chain with many stores: the object is
inserted through the REST API and the link carries only its id; when the API cannot be
reached the link carries an object trimmed to fit, and the worker inserts the whole object
once Google answers again."""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
import time
from typing import Any

from tests.offers.support import in_this_month, make_offer, opt_in
from tests.passsync.conftest import Wallets, local
from tests.support.google_schema import assert_valid
from tests.support.shop import Shop, Shopper, line
from wallet import db
from wallet import settings as settings_module
from wallet.passsync import google_api, google_save
from wallet.platform import worker
from wallet.stores import service as stores
from wallet.stores.schemas import StoreIn

LONG_NAME = "Александра Константиновна Преображенская"
MAX_LINK = 1800


def _claims(url: str) -> dict[str, Any]:
    token = url.removeprefix("https://pay.google.com/gp/v/save/")
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


async def _chain_of_ten_and_a_busy_shopper(client: Any) -> tuple[Shop, Shopper]:
    shop = await Shop.open(client)
    async with db.write_transaction():
        for n in range(2, 11):
            await stores.create_store(
                StoreIn(
                    code=f"MSK-{n:03}",
                    name=f"Магазин на Профсоюзной улице, дом {n}",
                    latitude=55.6 + n / 100,
                    longitude=37.5 + n / 100,
                )
            )
    offer = await make_offer(shop)
    shopper = await shop.enrol(LONG_NAME)
    await opt_in(shop, shopper, offer["id"])
    await shop.receipt(shopper.card, "R-1", [line(120_000)], at=in_this_month())
    await shop.receipt(shopper.card, "R-2", [line(80_000)], at=in_this_month())
    await worker.run_until_idle()
    me = await shop.me(shopper)
    assert me["balance"] > 0 and me["name"] == LONG_NAME
    return shop, shopper


async def _follow_save_link(shop: Shop, shopper: Shopper) -> str:
    me = await shop.me(shopper)
    reply = await shop.client.get(local(me["links"]["google_save"]))
    assert reply.status_code == 302, reply.text
    location: str = reply.headers["location"]
    assert location.startswith("https://pay.google.com/gp/v/save/")
    assert len(location) < MAX_LINK
    return location


async def test_a_long_object_is_inserted_first_and_the_link_carries_its_id(client, wallets):
    shop, shopper = await _chain_of_ten_and_a_busy_shopper(client)

    claims = _claims(await _follow_save_link(shop, shopper))

    [reference] = claims["payload"]["loyaltyObjects"]
    # Google's form for an object it holds: the id (and class id), nothing Google must check.
    assert set(reference) <= {"id", "classId"}
    assert_valid("LoyaltyObject", reference, patch=True)
    held = wallets.google.objects[reference["id"]]
    assert_valid("LoyaltyObject", held)
    assert held["accountName"] == LONG_NAME
    assert len(held["merchantLocations"]) == 10
    assert {m["id"] for m in held["textModulesData"]} >= {"goal"}
    assert wallets.google.problems == []
    # The worker has nothing left to insert: one insert, made before the redirect.
    await worker.run_until_idle()
    assert wallets.google.statuses("POST", "loyaltyObject") == [200]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_with_google_unreachable_the_link_carries_a_trimmed_object_that_fits(
    client, wallets: Wallets
):
    shop, shopper = await _chain_of_ten_and_a_busy_shopper(client)
    working = settings_module.get()
    settings_module.override(
        dataclasses.replace(
            working, google_api_url=f"http://127.0.0.1:{_closed_port()}/walletobjects/v1"
        )
    )
    try:
        claims = _claims(await _follow_save_link(shop, shopper))
    finally:
        settings_module.override(working)
        await google_api.close_all()

    [obj] = claims["payload"]["loyaltyObjects"]
    assert_valid("LoyaltyObject", obj)
    assert obj["accountName"] == LONG_NAME
    assert obj["loyaltyPoints"]["balance"]["int"] == (await shop.me(shopper))["balance"]
    assert "merchantLocations" not in obj and "linksModuleData" not in obj

    # Google made the object from the link; once the API answers, the worker finds it
    # (409) and completes it with what the link had to leave out.
    wallets.google.objects[obj["id"]] = obj
    await worker.run_until_idle()
    assert wallets.google.statuses("POST", "loyaltyObject") == [409]
    assert wallets.google.statuses("PATCH") == [200]
    assert len(wallets.google.objects[obj["id"]]["merchantLocations"]) == 10
    assert wallets.google.problems == []


async def test_a_google_api_that_does_not_answer_delays_the_redirect_by_seconds_only(
    client, wallets: Wallets, monkeypatch
):
    shop, shopper = await _chain_of_ten_and_a_busy_shopper(client)
    monkeypatch.setattr(google_save, "INSERT_SECONDS", 0.5)
    working = settings_module.get()
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings_module.override(
            dataclasses.replace(
                working,
                google_api_url=f"http://127.0.0.1:{silent.getsockname()[1]}/walletobjects/v1",
            )
        )
        started = time.monotonic()
        try:
            claims = _claims(await _follow_save_link(shop, shopper))
        finally:
            settings_module.override(working)
            await google_api.close_all()
        waited = time.monotonic() - started
    assert waited < 3
    [obj] = claims["payload"]["loyaltyObjects"]
    assert_valid("LoyaltyObject", obj)
