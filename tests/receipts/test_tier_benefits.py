"""Tier benefits beyond the earn rate, through the HTTP API on SQLite and PostgreSQL: a gold
card gets money off every line and may pay a larger share of a receipt with points; the
quote and the receipt agree, a return gives the tier's discount back in proportion, and
/me and /card show the benefits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.pages.conftest import join
from tests.support.shop import Shop, bearer, iso, line
from wallet import clock

GOLD = {
    "name": "Золотой",
    "min_spend_kopecks": 1_500_000,
    "earn_rate_bp": 700,
    "redeem_share_bp": 5_000,
    "discount_bp": 300,
}


async def gold_program(shop: Shop) -> None:
    reply = await shop.client.put(
        "/api/v1/admin/rules",
        json={
            # In force before the receipts' times (a second before the request each).
            "effective_from": iso(clock.now() - timedelta(hours=1)),
            "max_redeem_share_bp": 2_000,
            "tiers": [{"name": "Базовый", "min_spend_kopecks": 0, "earn_rate_bp": 500}, GOLD],
        },
        headers=bearer(shop.admin_key),
    )
    assert reply.status_code == 200, reply.text


async def quote(shop: Shop, card: str, lines: list[dict[str, Any]], redeem: int = 0) -> Any:
    reply = await shop.client.post(
        "/api/v1/pos/quotes",
        json={"card_number": card, "lines": lines, "redeem_points": redeem},
        headers=bearer(shop.pos_key),
    )
    return reply


BASKET = [line(1_000_000, "grocery", "CHEESE"), line(100_000, "alcohol", "WINE")]


async def test_a_gold_card_gets_its_discount_and_a_larger_points_share_quote_equal_receipt(
    client,
):
    shop = await Shop.open(client)
    await gold_program(shop)
    anna = await shop.enrol("Анна Смирнова")
    boris = await shop.enrol("Борис Петров")
    # 20,000 ₽ at the base tier: 1,000 points, and Anna is gold from now on.
    first = await shop.receipt(anna.card, "BIG", [line(2_000_000)])
    assert first["earned_points"] == 1_000 and first["discount_kopecks"] == 0
    await shop.give_points(anna.account_id, 4_000)
    await shop.give_points(boris.account_id, 5_000)

    quoted = await quote(shop, anna.card, BASKET)
    assert quoted.status_code == 200, quoted.text
    q = quoted.json()
    # 3% off the cheese; never off the wine (points may not pay for it, it earns nothing).
    assert q["lines"][0]["discounts"] == [{"promotion_id": 0, "kind": "tier", "kopecks": 30_000}]
    assert q["lines"][1]["discounts"] == []
    assert q["discount_kopecks"] == 30_000
    # Half of the 9,700 ₽ points may pay: 4,850 points (the program's 20% would be 1,940).
    cap = q["explanation"]["redeem"]
    assert cap["share_bp"] == 5_000 and cap["cap"] == 4_850

    plain = (await quote(shop, boris.card, BASKET)).json()
    assert plain["discount_kopecks"] == 0
    assert plain["explanation"]["redeem"]["share_bp"] == 2_000
    assert plain["explanation"]["redeem"]["cap"] == 2_000
    refused = await quote(shop, boris.card, BASKET, redeem=3_000)
    assert refused.status_code == 422 and refused.json()["code"] == "redemption_over_cap"

    at_till = (await quote(shop, anna.card, BASKET, redeem=3_000)).json()
    sold = await shop.receipt(anna.card, "GOLD", BASKET, redeem=3_000)
    for key in ("discount_kopecks", "earned_points", "paid_kopecks", "redeemed_points"):
        assert sold[key] == at_till[key], key
    assert sold["discount_kopecks"] == 30_000
    # 9,700 - 3,000 ₽ paid for cheese earns 7%: 469 points; the wine is paid in full.
    assert sold["earned_points"] == 469
    assert sold["paid_kopecks"] == 1_100_000 - 30_000 - 300_000
    assert sold["balance_after"] == 5_000 - 3_000 + 469

    back = await client.post(
        "/api/v1/pos/receipts/GOLD/returns",
        json={"return_id": "RET-GOLD", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert back.status_code == 201, back.text
    # The money paid comes back, not the price before the tier's discount.
    assert back.json()["refund_money_kopecks"] == 770_000
    assert back.json()["refunded_points"] == 3_000
    assert back.json()["reversed_points"] == 469

    me = await shop.me(anna)
    assert me["balance"] == 5_000
    tier = me["tier_progress"]
    assert tier["name"] == "Золотой"
    assert tier["discount_bp"] == 300 and tier["redeem_share_bp"] == 5_000
    base = (await shop.me(boris))["tier_progress"]
    assert base["discount_bp"] == 0 and base["redeem_share_bp"] is None


async def test_the_card_page_shows_the_tiers_benefits(client: httpx.AsyncClient):
    shop = await Shop.open(client)
    await gold_program(shop)
    joined = await join(client, name="Анна", email="anna.tier@example.ru")
    assert joined.status_code == 303
    page = (await client.get("/card")).text
    assert 'id="tier-discount"' not in page and 'id="tier-share"' not in page
    number = page.split('id="card-number">')[1].split("<")[0].replace(" ", "")
    await shop.receipt(number, "BIG", [line(2_000_000)])
    page = (await client.get("/card")).text
    assert 'id="tier">Золотой<' in page
    assert 'id="tier-discount">3%<' in page
    assert 'id="tier-share">до 50% чека<' in page


async def test_a_tier_discount_beyond_half_is_refused(client):
    shop = await Shop.open(client)
    reply = await client.put(
        "/api/v1/admin/rules",
        json={"tiers": [{**GOLD, "discount_bp": 6_000}]},
        headers=bearer(shop.admin_key),
    )
    assert reply.status_code == 400, reply.text
    rules = (await client.get("/api/v1/admin/rules", headers=bearer(shop.admin_key))).json()
    assert len(rules["versions"]) == 1
    assert all(t["discount_bp"] == 0 for t in rules["current"]["tiers"])
