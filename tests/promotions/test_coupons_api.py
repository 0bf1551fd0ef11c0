"""Coupons and promo codes through the HTTP API, on SQLite and on PostgreSQL: a marketer
makes codes, the till sends them with quotes and receipts, each code is accepted as often
as it may be, and a return gives it back."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

from tests.promotions.test_promotions_api import PATH, promo, quote, seed
from tests.support.shop import Shop, bearer, iso, line
from wallet import clock

COUPON_DEAL = {
    "name": "Промокод: 20% на кофе",
    "conditions": [{"kind": "coupon"}, {"kind": "lines", "categories": ["coffee"]}],
    "effects": [{"kind": "percent_off", "percent_bp": 2000}],
}


async def coupons(shop: Shop, promotion_id: int, body: dict[str, Any], expect: int = 201) -> Any:
    reply = await shop.client.post(
        f"{PATH}/{promotion_id}/coupons", json=body, headers=bearer(shop.admin_key)
    )
    assert reply.status_code == expect, reply.text
    return reply.json()


async def codes_of(shop: Shop, batch: dict[str, Any]) -> list[str]:
    reply = await shop.client.get(batch["csv_url"], headers=bearer(shop.admin_key))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.text)))
    assert rows[0] == ["code"]
    return [row[0] for row in rows[1:]]


async def receipt_with(
    shop: Shop, card: str, receipt_id: str, codes: list[str], expect: int = 201
) -> Any:
    reply = await shop.client.post(
        "/api/v1/pos/receipts",
        json={
            "receipt_id": receipt_id,
            "card_number": card,
            "occurred_at": iso(clock.now() - timedelta(seconds=1)),
            "lines": [line(10_000, "coffee", "LATTE")],
            "coupons": codes,
        },
        headers=bearer(shop.pos_key),
    )
    assert reply.status_code == expect, reply.text
    return reply.json()


async def test_a_batch_of_unique_codes_is_downloaded_once_and_each_code_works_once(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    batch = await coupons(shop, deal["id"], {"count": 3, "per_shopper_limit": 5})
    assert batch["kind"] == "unique" and batch["count"] == 3
    codes = await codes_of(shop, batch)
    assert len(set(codes)) == 3
    again = await client.get(batch["csv_url"], headers=bearer(shop.admin_key))
    assert again.status_code == 410
    assert again.json()["code"] == "codes_already_downloaded"

    anna = await shop.enrol()
    # Without the code the promotion does not apply; with it, 20% off.
    plain = await quote(shop, anna.card, [line(10_000, "coffee", "LATTE")])
    assert plain["discount_kopecks"] == 0
    quoted = await quote(
        shop, anna.card, [line(10_000, "coffee", "LATTE")], coupons=[codes[0].lower()]
    )
    assert quoted["discount_kopecks"] == 2_000
    first = await receipt_with(shop, anna.card, "R1", [codes[0]])
    assert first["discount_kopecks"] == 2_000
    assert first["promotions"][0]["promotion_id"] == deal["id"]
    # Used once: refused with its reason, and the receipt pays full price.
    second = await receipt_with(shop, anna.card, "R2", [codes[0]])
    assert second["discount_kopecks"] == 0
    assert [(n["promotion_id"], n["code"]) for n in second["not_applied"]] == [
        (deal["id"], "coupon_used")
    ]
    assert codes[0] in second["not_applied"][0]["reason_ru"]
    unknown = await receipt_with(shop, anna.card, "R3", ["NOPE-NOPE-NOPE"])
    assert unknown["not_applied"][0]["code"] == "coupon_unknown"
    listed = await client.get(f"{PATH}/{deal['id']}/coupons", headers=bearer(shop.admin_key))
    assert listed.json()[0]["used"] == 1
    assert listed.json()[0]["csv_url"] is None


async def test_a_coupon_sent_from_two_tills_at_once_is_accepted_once(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    other_till = await Shop.open(client, "MSK-002")
    deal = await promo(shop, COUPON_DEAL)
    code = (await codes_of(shop, await coupons(shop, deal["id"], {"count": 1})))[0]
    # Ten shoppers at two tills, all handing over the same code at the same moment.
    shoppers = [await shop.enrol(f"Покупатель{i} Тест") for i in range(10)]
    results = await asyncio.gather(
        *[
            receipt_with(till, shopper.card, f"T{i}", [code])
            for i, shopper in enumerate(shoppers)
            for till in [(shop, other_till)[i % 2]]
        ]
    )
    assert sorted(r["discount_kopecks"] for r in results) == [0] * 9 + [2_000]
    refused = [r for r in results if r["discount_kopecks"] == 0]
    assert all(r["not_applied"][0]["code"] == "coupon_used" for r in refused)
    listed = await client.get(f"{PATH}/{deal['id']}", headers=bearer(shop.admin_key))
    assert listed.json()["counters"]["uses"] == 1


async def test_a_shared_code_keeps_its_total_and_per_shopper_limits(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    batch = await coupons(
        shop, deal["id"], {"code": "coffee-20", "per_shopper_limit": 1, "total_limit": 2}
    )
    assert batch["kind"] == "shared" and batch["code"] == "COFFEE20"
    taken = await coupons(shop, deal["id"], {"code": "COFFEE-20"}, expect=409)
    assert taken["code"] == "coupon_code_taken"
    anna, boris, vera = [await shop.enrol(f"Покупатель{i} Тест") for i in range(3)]
    assert (await receipt_with(shop, anna.card, "S1", ["COFFEE20"]))["discount_kopecks"] == 2_000
    again = await receipt_with(shop, anna.card, "S2", ["COFFEE20"])
    assert again["not_applied"][0]["code"] == "coupon_limit"
    assert (await receipt_with(shop, boris.card, "S3", ["coffee 20"]))["discount_kopecks"] == 2_000
    third = await receipt_with(shop, vera.card, "S4", ["COFFEE20"])
    assert third["not_applied"][0]["code"] == "coupon_limit"


async def test_an_expired_code_is_refused_as_expired(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    now = clock.now()
    await coupons(
        shop,
        deal["id"],
        {
            "code": "OLDCODE",
            "valid_from": iso(now - timedelta(days=10)),
            "valid_until": iso(now - timedelta(days=1)),
        },
    )
    anna = await shop.enrol()
    result = await receipt_with(shop, anna.card, "E1", ["OLDCODE"])
    assert result["not_applied"][0]["code"] == "coupon_expired"
    assert result["discount_kopecks"] == 0


async def test_a_returned_receipt_gives_the_coupon_back(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    code = (await codes_of(shop, await coupons(shop, deal["id"], {"count": 1})))[0]
    anna = await shop.enrol()
    assert (await receipt_with(shop, anna.card, "G1", [code]))["discount_kopecks"] == 2_000
    back = await client.post(
        "/api/v1/pos/receipts/G1/returns",
        json={"return_id": "GR1", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert back.status_code == 201, back.text
    assert back.json()["coupons_returned"] == 1
    assert back.json()["refund_money_kopecks"] == 8_000
    reused = await receipt_with(shop, anna.card, "G2", [code])
    assert reused["discount_kopecks"] == 2_000


async def test_bad_batches_are_refused_with_a_code_and_change_nothing(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    for body in ({"count": 0}, {"count": 1_000_001}, {"count": 5, "surprise": 1}):
        refused = await coupons(shop, deal["id"], body, expect=400)
        assert refused["code"]
    both = await coupons(shop, deal["id"], {"count": 2, "code": "TWOKINDS"}, expect=422)
    assert both["code"] == "coupon_batch_kind"
    plain = await promo(
        shop, {"name": "Без купона", "effects": [{"kind": "receipt_bonus", "points": 5}]}
    )
    no_coupon = await coupons(shop, plain["id"], {"count": 2}, expect=422)
    assert no_coupon["code"] == "promotion_without_coupon"
    await coupons(shop, 999_999, {"count": 2}, expect=404)
    listed = await client.get(f"{PATH}/{deal['id']}/coupons", headers=bearer(shop.admin_key))
    assert listed.json() == []


async def test_a_segment_a_live_promotion_uses_cannot_be_deleted(client):
    shop = await Shop.open(client)
    made = await client.post(
        "/api/v1/admin/segments",
        json={"name": "пенсионеры", "filter": {"spend_min_kopecks": 1}},
        headers=bearer(shop.admin_key),
    )
    assert made.status_code == 201, made.text
    segment = made.json()["id"]
    deal = await promo(
        shop,
        {
            "name": "Пенсионерам ×2",
            "conditions": [{"kind": "segments", "ids": [segment]}],
            "effects": [{"kind": "multiplier", "times": 2}],
        },
    )
    in_use = await client.delete(
        f"/api/v1/admin/segments/{segment}", headers=bearer(shop.admin_key)
    )
    assert in_use.status_code == 409, in_use.text
    assert in_use.json()["code"] == "segment_in_use"
    assert in_use.json()["details"] == {
        "segment_id": segment,
        "promotion_ids": [deal["id"]],
        "promotion_names": ["Пенсионерам ×2"],
    }
    assert "Пенсионерам ×2" in in_use.json()["message"]
    ended = await client.post(f"{PATH}/{deal['id']}/end", headers=bearer(shop.admin_key))
    assert ended.status_code == 200
    gone = await client.delete(f"/api/v1/admin/segments/{segment}", headers=bearer(shop.admin_key))
    assert gone.status_code == 204, gone.text


async def test_the_card_page_shows_a_personal_coupon_and_the_promotions_for_the_shopper(client):
    from tests.pages.conftest import join
    from wallet import db

    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    everyone = await promo(
        shop, {"name": "Бонус за покупку", "effects": [{"kind": "receipt_bonus", "points": 7}]}
    )
    someone_elses = await promo(shop, {**COUPON_DEAL, "name": "Чужой купон"})
    reply = await join(client, name="Анна", email="anna.card@example.ru")
    assert reply.status_code == 303
    page = (await client.get("/card")).text
    number = page.split('id="card-number">')[1].split("<")[0].replace(" ", "")
    rows = await db.raw("SELECT account FROM card WHERE number = {}", number)
    account_id = rows[0]["account"]
    assert "Бонус за покупку" in page and "+7\u00a0баллов за покупку" in page
    assert COUPON_DEAL["name"] not in page  # a coupon promotion shows only with a coupon

    until = clock.now() + timedelta(days=30)
    batch = await coupons(
        shop, deal["id"], {"account_ids": [account_id], "valid_until": iso(until)}
    )
    assert batch["kind"] == "personal" and batch["csv_url"] is None
    page = (await client.get("/card")).text
    assert COUPON_DEAL["name"] in page and "скидка 20%, на coffee" in page
    code = page.split('class="coupon-code">')[1].split("<")[0]
    assert len(code) == 14
    assert someone_elses["name"] not in page and everyone["id"]
    # The pass shows it on its back, with the code.
    from wallet.passsync import view

    shown = await view.account_view(account_id, clock.now())
    assert shown.personal_offers == [
        f"{COUPON_DEAL['name']}: скидка 20%, на coffee. Промокод {code}"
    ]
    # The code works for its owner at the till, then leaves the page.
    used = await receipt_with(shop, number, "P1", [code])
    assert used["discount_kopecks"] == 2_000
    assert 'class="coupon-code"' not in (await client.get("/card")).text
