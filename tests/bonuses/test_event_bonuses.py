"""Event bonuses and tier lifecycle through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx

from tests.support.shop import Shop, Shopper, bearer, line
from wallet import clock, settings


async def _marketer(shop: Shop, bonuses: dict) -> None:
    from tests.support.shop import make_key

    key = await make_key("marketer")
    reply = await shop.client.put("/api/v1/admin/bonuses", json=bonuses, headers=bearer(key))
    assert reply.status_code == 200, reply.text


def _local_noon(day_offset: int = 0) -> datetime:
    zone = settings.get().tz
    today = clock.now().astimezone(zone).date() + timedelta(days=day_offset)
    return datetime(today.year, today.month, today.day, 12, tzinfo=zone)


async def test_birthday_doubles_points_on_the_birthday_not_after_the_window(client):
    shop = await Shop.open(client)
    await _marketer(shop, {"birthday": {"mode": "multiplier", "multiplier": 2, "days_after": 3}})
    # The birthday was four days ago: the window (birthday .. +3 days) covered days -4..-1.
    birthday = _local_noon(-4).date().replace(year=1990)
    shopper = await shop.enrol("Вера Ли", birthday=birthday.isoformat())
    on_the_day = await shop.receipt(shopper.card, "B1", [line(100_000)], at=_local_noon(-4))
    # 5% of 1,000 ₽ is 50 points; ×2 on the birthday gives 50 more.
    assert on_the_day["earned_points"] == 50
    assert on_the_day["balance_after"] == 100
    # Today (the window ended yesterday): now, not today's noon, which is still ahead of the
    # clock in the morning (the till's receipt from the future is refused).
    after = await shop.receipt(shopper.card, "B2", [line(100_000)], at=clock.now())
    assert after["balance_after"] == 150
    # Returning half the birthday receipt takes back half its ×2 as well.
    reply = await client.post(
        "/api/v1/pos/receipts/B1/returns",
        json={
            "return_id": "RET1",
            "occurred_at": clock.now().isoformat(),
            "lines": [{"line": 1, "amount": 50_000}],
        },
        headers=bearer(shop.pos_key),
    )
    assert reply.status_code == 201, reply.text
    assert (await shop.me(shopper))["balance"] == 150 - 25 - 25


async def test_welcome_after_first_purchase_is_paid_once(client):
    shop = await Shop.open(client)
    await _marketer(shop, {"welcome": {"points": 300, "after_first_purchase": True}})
    shopper = await shop.enrol()
    assert (await shop.me(shopper))["balance"] == 0
    first = await shop.receipt(shopper.card, "W1", [line(10_000)])
    assert first["balance_after"] == 5 + 300
    second = await shop.receipt(shopper.card, "W2", [line(10_000)])
    assert second["balance_after"] == 5 + 300 + 5


async def _enrol_with(shop: Shop, email: str, ref: str, **extra) -> httpx.Response:
    return await shop.client.post(
        "/api/v1/cards",
        json={
            "name": "Друг",
            "email": email,
            "ref": ref,
            "consents": {"program": True, "personal_data": True, "terms_version": "2026-01"},
            **extra,
        },
    )


async def test_referral_is_rewarded_once_under_20_concurrent_first_receipts(client):
    shop = await Shop.open(client)
    await _marketer(shop, {"referral": {"referrer_points": 500, "friend_points": 200}})
    referrer = await shop.enrol("Анна Смирнова", email="anna@example.ru")
    me = await shop.me(referrer)
    code = me["referral"]["code"]
    assert me["referral"]["link"].endswith(f"/join?ref={code}")
    joined = await _enrol_with(shop, "friend@example.ru", code)
    assert joined.status_code == 201, joined.text
    friend = Shopper(
        card=joined.json()["card_number"],
        account_id=joined.json()["account_id"],
        token=joined.json()["shopper_token"],
    )
    replies = await asyncio.gather(
        *(
            client.post(
                "/api/v1/pos/receipts",
                json={
                    "receipt_id": f"F{n}",
                    "card_number": friend.card,
                    "occurred_at": (clock.now() - timedelta(seconds=1)).isoformat(),
                    "lines": [line(10_000)],
                    "redeem_points": 0,
                },
                headers=bearer(shop.pos_key),
            )
            for n in range(20)
        )
    )
    assert [r.status_code for r in replies] == [201] * 20, [r.text for r in replies]
    assert (await shop.me(referrer))["balance"] == 500
    assert (await shop.me(friend))["balance"] == 200 + 20 * 5


async def test_self_referral_and_own_account_code_are_refused_with_a_reason(client):
    shop = await Shop.open(client)
    await _marketer(shop, {"referral": {"referrer_points": 500, "friend_points": 200}})
    anna = await shop.enrol("Анна Смирнова", email="anna@example.ru")
    code = (await shop.me(anna))["referral"]["code"]
    # Joining again with her own contact and her own code: the join form never tells a
    # stranger who is a member, so she gets the member's answer (a sign-in code was sent),
    # and nothing is created or paid.
    own = await _enrol_with(shop, "anna@example.ru", code)
    assert own.status_code == 202, own.text
    assert own.json()["status"] == "code_sent"
    # Signed in, her own code is refused with the reason.
    mine = await client.post("/api/v1/me/referral", json={"code": code}, headers=anna.headers)
    assert mine.status_code == 409
    assert mine.json()["code"] == "referral_refused"
    # A second card of the same account: its holder sees the account's code and tries it.
    added = await client.post(
        f"/api/v1/admin/accounts/{anna.account_id}/cards",
        json={"kind": "virtual", "role": "family", "holder_name": "Пётр"},
        headers=bearer(shop.support_key),
    )
    assert added.status_code == 201, added.text
    same = await client.post("/api/v1/me/referral", json={"code": code}, headers=anna.headers)
    assert same.status_code == 409
    assert same.json()["details"]["reason"] == "same_account"
    unknown = await _enrol_with(shop, "x@example.ru", "ZZ-AAAAAA")
    assert unknown.status_code == 422 and unknown.json()["code"] == "referral_code_unknown"
    # Nothing was paid to anyone.
    await shop.receipt(anna.card, "A1", [line(10_000)])
    assert (await shop.me(anna))["balance"] == 5


async def _set_rules(shop: Shop, body: dict) -> None:
    reply = await shop.client.put("/api/v1/admin/rules", json=body, headers=bearer(shop.admin_key))
    assert reply.status_code == 200, reply.text


async def test_tier_drops_when_the_spend_leaves_the_rolling_window(client):
    shop = await Shop.open(client)
    await _set_rules(
        shop,
        {
            "tier_basis": "rolling",
            "tier_window_months": 12,
            "effective_from": (clock.now() - timedelta(days=400)).isoformat(),
        },
    )
    shopper = await shop.enrol()
    # 15,000 ₽ spent 13 months ago: out of the window, so 5% and progress from zero.
    await shop.receipt(shopper.card, "OLD", [line(1_500_000)], at=clock.now() - timedelta(days=395))
    me = await shop.me(shopper)
    assert me["tier"] == "Базовый"
    now = await shop.receipt(shopper.card, "NOW", [line(100_000)])
    assert now["earned_points"] == 50
    # Under the lifetime basis (the default) the same history is 7%.
    await _set_rules(shop, {"tier_basis": "lifetime"})
    assert (await shop.me(shopper))["tier"] == "Золотой"


async def test_progress_to_the_next_tier_on_me_and_the_card_page(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.receipt(shopper.card, "P1", [line(1_180_000)])
    me = await shop.me(shopper)
    assert me["tier_progress"]["missing_kopecks"] == 320_000
    assert me["tier_progress"]["progress"] == "ещё 3 200 ₽ до 7%"
    english = await client.patch("/api/v1/me", json={"language": "en"}, headers=shopper.headers)
    assert english.json()["tier_progress"]["progress"] == "spend 3,200 ₽ more for 7%"
