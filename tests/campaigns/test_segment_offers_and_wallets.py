"""Segment filters over cashback (opt-in, goal status) and the wallet that holds the pass,
through the admin preview, on both databases."""

from __future__ import annotations

from datetime import timedelta

from tests.campaigns.test_campaigns import preview_ids
from tests.offers.support import consenting, in_this_month, make_offer, opt_in, this_month
from tests.passsync.conftest import Phone, download_pass, local
from tests.support.shop import Shop, bearer, line, make_key
from wallet.offers import service as offers
from wallet.offers import settlement


async def test_cashback_filters_select_opted_in_shoppers_by_goal_status(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    # No history: the goal is the offer's 5,000 ₽.
    offer = await make_offer(shop)
    short = await shop.enrol("Анна Не Дотянула", **consenting("anna@example.ru"))
    done = await shop.enrol("Борис Дошёл", **consenting("boris@example.ru"))
    outside = await shop.enrol("Вера Без Кешбэка", **consenting("vera@example.ru"))
    await opt_in(shop, short, offer["id"])
    await opt_in(shop, done, offer["id"])
    await shop.receipt(short.card, "S1", [line(100_000)], at=in_this_month())
    await shop.receipt(done.card, "D1", [line(600_000)], at=in_this_month())
    await shop.receipt(outside.card, "O1", [line(900_000)], at=in_this_month())

    assert await preview_ids(client, key, {"cashback_opted_in": True}) == {
        short.account_id,
        done.account_id,
    }
    assert await preview_ids(client, key, {"cashback_opted_in": False}) == {outside.account_id}
    assert await preview_ids(client, key, {"goal_statuses": ["in_progress"]}) == {short.account_id}
    assert await preview_ids(client, key, {"goal_statuses": ["reached"]}) == {done.account_id}
    assert await preview_ids(client, key, {"goal_statuses": ["missed"]}) == set()

    # After month-end settlement the month's outcomes are final.
    month = this_month()
    _start, end = offers.month_bounds(month)
    await settlement.settle_month(month, now=end + timedelta(days=3))
    settled = {"goal_month": month}
    assert await preview_ids(client, key, {**settled, "goal_statuses": ["missed"]}) == {
        short.account_id
    }
    assert await preview_ids(client, key, {**settled, "goal_statuses": ["reached"]}) == {
        done.account_id
    }
    assert await preview_ids(client, key, {**settled, "goal_statuses": ["reached", "missed"]}) == {
        short.account_id,
        done.account_id,
    }
    assert await preview_ids(client, key, {**settled, "goal_statuses": ["in_progress"]}) == set()
    assert await preview_ids(
        client, key, {"goal_month": "2001-01", "goal_statuses": ["missed"]}
    ) == (set())


async def test_wallet_filter_selects_by_apple_device_google_save_or_neither(client, wallets):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    apple = await shop.enrol("Анна Эппл", email="anna@example.ru")
    google = await shop.enrol("Борис Гугл", email="boris@example.ru")
    both = await shop.enrol("Вера Оба", email="vera@example.ru")
    downloaded = await shop.enrol("Глеб Скачал", email="gleb@example.ru")
    nothing = await shop.enrol("Дина Без Кошелька", email="dina@example.ru")

    for n, shopper in enumerate((apple, both)):
        phone = Phone(client, device_id=f"{n}" * 32, push_token=f"{n}f" * 32)
        assert (await phone.register(await download_pass(shop, shopper))).status_code == 201
    # A pass downloaded but never registered by a device is in no wallet yet.
    await download_pass(shop, downloaded)
    for shopper in (google, both):
        me = await shop.me(shopper)
        assert (await client.get(local(me["links"]["google_save"]))).status_code == 302

    assert await preview_ids(client, key, {"wallets": ["apple"]}) == {
        apple.account_id,
        both.account_id,
    }
    assert await preview_ids(client, key, {"wallets": ["google"]}) == {
        google.account_id,
        both.account_id,
    }
    assert await preview_ids(client, key, {"wallets": ["none"]}) == {
        downloaded.account_id,
        nothing.account_id,
    }
    assert await preview_ids(client, key, {"wallets": ["apple", "none"]}) == {
        apple.account_id,
        both.account_id,
        downloaded.account_id,
        nothing.account_id,
    }
    reply = await client.post(
        "/api/v1/admin/segments/preview", json={"wallets": ["google"]}, headers=bearer(key)
    )
    assert reply.json()["ignored"] == []
