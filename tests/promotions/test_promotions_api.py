"""Promotions through the HTTP API, on SQLite and on PostgreSQL: a marketer saves them,
the till's quotes, receipts and returns show and apply them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.support.shop import Shop, bearer, iso, line
from wallet import clock, db

PATH = "/api/v1/admin/promotions"


async def promo(shop: Shop, body: dict[str, Any], *, activate: bool = True) -> dict[str, Any]:
    reply = await shop.client.post(PATH, json=body, headers=bearer(shop.admin_key))
    assert reply.status_code == 201, reply.text
    saved = reply.json()
    if activate:
        moved = await shop.client.post(
            f"{PATH}/{saved['id']}/activate", headers=bearer(shop.admin_key)
        )
        assert moved.status_code == 200, moved.text
    return saved  # type: ignore[no-any-return]


async def seed(shop: Shop, *lines: dict[str, Any]) -> None:
    """Categories and SKUs are known once a receipt sold them."""
    seeder = await shop.enrol("Сид Сидоров")
    await shop.receipt(seeder.card, f"SEED-{seeder.account_id}", list(lines))


async def quote(shop: Shop, card: str, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    reply = await shop.client.post(
        "/api/v1/pos/quotes",
        json={"card_number": card, "lines": lines, **extra},
        headers=bearer(shop.pos_key),
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_magnit_january_double_points_on_one_category_only(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "dairy"), line(100, "bakery"))
    now = clock.now()
    doubled = await promo(
        shop,
        {
            "name": "Январь ×2 на молочку",
            "conditions": [
                {
                    "kind": "window",
                    "starts_at": iso(now - timedelta(days=3)),
                    "ends_at": iso(now - timedelta(days=1)),
                },
                {"kind": "lines", "categories": ["dairy"]},
            ],
            "effects": [{"kind": "multiplier", "times": 2}],
        },
    )
    anna = await shop.enrol("Анна Смирнова")
    during = await shop.receipt(
        anna.card,
        "R1",
        [line(100_000, "dairy", "MILK"), line(50_000, "bakery", "BREAD")],
        at=now - timedelta(days=2),
    )
    # 5% of 1,000 ₽ = 50 points, doubled; bread earns its 25 and nothing more.
    assert [x["earned_points"] for x in during["lines"]] == [100, 25]
    assert during["earned_points"] == 125
    assert during["lines"][0]["promotion_points"] == [
        {"promotion_id": doubled["id"], "kind": "multiplier", "points": 50}
    ]
    assert during["promotions"] == [
        {
            "promotion_id": doubled["id"],
            "name": "Январь ×2 на молочку",
            "discount_kopecks": 0,
            "points": 50,
        }
    ]
    after = await shop.receipt(
        anna.card, "R2", [line(100_000, "dairy", "MILK")], at=now - timedelta(hours=1)
    )
    assert after["earned_points"] == 50
    assert [(n["promotion_id"], n["code"]) for n in after["not_applied"]] == [
        (doubled["id"], "ended")
    ]
    # The journal names the promotion that gave the extra points.
    history = await client.get(
        f"/api/v1/admin/accounts/{anna.account_id}/journal", headers=bearer(shop.support_key)
    )
    if history.status_code == 200:
        assert any(
            entry.get("points") == 50 for entry in history.json().get("entries", history.json())
        )


async def test_one_plus_one_equals_three_on_three_units(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "snacks", "CHIPS"))
    deal = await promo(
        shop,
        {
            "name": "1+1=3 чипсы",
            "conditions": [{"kind": "lines", "skus": ["CHIPS"]}],
            "effects": [{"kind": "n_for_m", "take": 3, "pay": 2}],
        },
    )
    anna = await shop.enrol()
    result = await shop.receipt(anna.card, "R1", [line(30_000, "snacks", "CHIPS", quantity=3)])
    assert result["lines"][0]["discount_kopecks"] == 10_000
    assert result["lines"][0]["discounts"] == [
        {"promotion_id": deal["id"], "kind": "n_for_m", "kopecks": 10_000}
    ]
    assert result["paid_kopecks"] == 20_000
    assert result["discount_kopecks"] == 10_000
    assert result["earned_points"] == 10  # 5% of the 200 ₽ paid
    two = await shop.receipt(anna.card, "R2", [line(20_000, "snacks", "CHIPS", quantity=2)])
    assert two["paid_kopecks"] == 20_000
    assert two["not_applied"][0]["code"] == "not_enough_items"


async def test_a_set_that_breaks_on_a_partial_return_takes_the_set_discount_back(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "bakery", "BUN"), line(100, "drinks", "COFFEE"))
    deal = await promo(
        shop,
        {
            "name": "Кофе с булочкой за 150 ₽",
            "effects": [{"kind": "set", "skus": ["BUN", "COFFEE"], "price_kopecks": 15_000}],
        },
    )
    anna = await shop.enrol()
    sold = await shop.receipt(
        anna.card, "R1", [line(10_000, "bakery", "BUN"), line(10_000, "drinks", "COFFEE")]
    )
    assert [x["paid_kopecks"] for x in sold["lines"]] == [7_500, 7_500]
    reply = await client.post(
        "/api/v1/pos/receipts/R1/returns",
        json={"return_id": "RET1", "occurred_at": iso(clock.now()), "lines": [{"line": 2}]},
        headers=bearer(shop.pos_key),
    )
    assert reply.status_code == 201, reply.text
    back = reply.json()
    # The bun alone costs 100 ₽ now: of the 75 ₽ paid for the coffee, 25 ₽ stay with it.
    assert back["refund_money_kopecks"] == 5_000
    assert back["promotions"] == [
        {"promotion_id": deal["id"], "discount_kopecks": 5_000, "points": 0}
    ]
    listed = (await client.get(f"{PATH}/{deal['id']}", headers=bearer(shop.admin_key))).json()
    assert listed["counters"]["discount_kopecks"] == 0
    rest = await client.post(
        "/api/v1/pos/receipts/R1/returns",
        json={"return_id": "RET2", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert rest.json()["refund_money_kopecks"] == 10_000  # 75 + 25 ₽ paid in all


async def test_a_return_reprices_with_the_promotions_definition_or_the_copy_an_older_receipt_kept(
    client,
):
    # A receipt no longer copies each promotion's definition (a definition never changes):
    # a return reads it from the promotion. Rows written before kept a copy, and a return
    # of such a receipt still prices with that copy.
    shop = await Shop.open(client)
    await seed(shop, line(100, "snacks", "CHIPS"))
    deal = await promo(
        shop,
        {"name": "1+1 на чипсы", "effects": [{"kind": "n_for_m", "take": 2, "pay": 1}]},
    )
    anna = await shop.enrol()
    for receipt_id in ("R1", "R2"):
        sold = await shop.receipt(
            anna.card,
            receipt_id,
            [line(10_000, "snacks", "CHIPS"), line(10_000, "snacks", "CHIPS")],
        )
        assert sold["discount_kopecks"] == 10_000
    rows = await db.fetch(
        "SELECT definition FROM receipt_promotion WHERE promotion_id = $1", deal["id"]
    )
    assert [row["definition"] for row in rows] == [None, None]
    # R2 as if written before the change, with a copy of its own: one that differs from
    # the promotion (half off), so the return shows which definition it priced with.
    await db.fetch(
        "UPDATE receipt_promotion SET definition = $1 WHERE id = "
        "(SELECT MAX(id) FROM receipt_promotion WHERE promotion_id = $2)",
        '{"conditions":[],"effects":[{"kind":"percent_off","percent_bp":5000}]}',
        deal["id"],
    )
    for receipt_id, kept_discount in (("R1", 0), ("R2", 5_000)):
        reply = await client.post(
            f"/api/v1/pos/receipts/{receipt_id}/returns",
            json={
                "return_id": f"RET-{receipt_id}",
                "occurred_at": iso(clock.now()),
                "lines": [{"line": 2}],
            },
            headers=bearer(shop.pos_key),
        )
        assert reply.status_code == 201, reply.text
        # 1+1 (from the promotion) breaks with one pack kept: the 100 ₽ off comes back out
        # of the refund. Half off (the older copy) still holds on the pack kept: 50 ₽ of
        # the 100 ₽ off stay with it.
        assert reply.json()["promotions"] == [
            {"promotion_id": deal["id"], "discount_kopecks": 10_000 - kept_discount, "points": 0}
        ], receipt_id


async def test_a_budget_of_10000_points_is_not_exceeded_under_50_concurrent_receipts(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "grocery"))
    gift = await promo(
        shop,
        {
            "name": "300 баллов за покупку",
            "effects": [{"kind": "receipt_bonus", "points": 300}],
            "budget": {"points": 10_000},
        },
    )
    shoppers = [await shop.enrol(f"Покупатель{i} Тест") for i in range(25)]
    results = await asyncio.gather(
        *[shop.receipt(shoppers[i % 25].card, f"C{i}", [line(10_000)]) for i in range(50)]
    )
    given = sum(p["points"] for r in results for p in r["promotions"])
    assert given == 10_000
    assert (
        sum(1 for r in results if any(n["code"] == "budget_exhausted" for n in r["not_applied"]))
        >= 16
    )
    listed = (await client.get(f"{PATH}/{gift['id']}", headers=bearer(shop.admin_key))).json()
    assert listed["counters"]["budget_points_left"] == 0
    assert listed["counters"]["points_given"] == 10_000
    # A return gives its part of the budget back.
    spent = next(i for i, r in enumerate(results) if r["promotions"])
    await client.post(
        f"/api/v1/pos/receipts/C{spent}/returns",
        json={"return_id": "B1", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    listed = (await client.get(f"{PATH}/{gift['id']}", headers=bearer(shop.admin_key))).json()
    assert listed["counters"]["budget_points_left"] == results[spent]["promotions"][0]["points"]


async def test_the_explanation_names_each_promotion_that_did_not_apply_and_why(client):
    shop = await Shop.open(client)
    await shop.client.post(
        "/api/v1/admin/stores",
        json={"code": "SPB-002", "name": "Невский, 1"},
        headers=bearer(shop.admin_key),
    )
    await seed(shop, line(100, "grocery"), line(100, "alcohol", "WINE"))
    other_store = await promo(
        shop,
        {
            "name": "Только Питер",
            "conditions": [{"kind": "stores", "codes": ["SPB-002"]}],
            "effects": [{"kind": "receipt_bonus", "points": 10}],
        },
    )
    minimum = await promo(
        shop,
        {
            "name": "От 1500",
            "conditions": [{"kind": "min_total", "kopecks": 150_000}],
            "effects": [{"kind": "receipt_bonus", "points": 10}],
        },
    )
    wine = await promo(
        shop,
        {
            "name": "Вино −10%",
            "conditions": [{"kind": "lines", "categories": ["alcohol"]}],
            "effects": [{"kind": "percent_off", "percent_bp": 1000}],
        },
    )
    winner = await promo(
        shop,
        {
            "name": "Главная",
            "priority": 500,
            "stacking": "exclusive",
            "group": "неделя",
            "effects": [{"kind": "receipt_bonus", "points": 20}],
        },
    )
    loser = await promo(
        shop,
        {
            "name": "Вторая",
            "stacking": "exclusive",
            "group": "неделя",
            "effects": [{"kind": "receipt_bonus", "points": 5}],
        },
    )
    broke = await promo(
        shop,
        {
            "name": "Без бюджета",
            "effects": [{"kind": "receipt_bonus", "points": 5}],
            "budget": {"kopecks": 0},
        },
    )
    anna = await shop.enrol()
    lines = [line(100_000, "grocery"), line(32_000, "alcohol", "WINE")]
    result = await shop.receipt(anna.card, "R1", lines)
    reasons = {n["promotion_id"]: n for n in result["not_applied"]}
    assert reasons[other_store["id"]]["code"] == "not_this_store"
    assert reasons[other_store["id"]]["reason_en"] == "not this store"
    assert (
        reasons[minimum["id"]]["reason_en"]
        == "minimum total 1,500\u00a0₽ not reached: 1,320\u00a0₽"
    )
    assert reasons[minimum["id"]]["reason_ru"] == (
        "минимальная сумма 1\u00a0500\u00a0₽ не набрана: 1\u00a0320\u00a0₽"
    )
    assert reasons[wine["id"]]["reason_en"] == "excluded category: alcohol"
    assert reasons[loser["id"]]["code"] == "lost_to_exclusive"
    assert f"#{winner['id']}" in reasons[loser["id"]]["reason_en"]
    assert reasons[broke["id"]]["reason_en"] == "budget exhausted"
    assert set(reasons) == {other_store["id"], minimum["id"], wine["id"], loser["id"], broke["id"]}
    assert [p["promotion_id"] for p in result["promotions"]] == [winner["id"]]
    assert result["lines"][1]["discount_kopecks"] == 0  # alcohol: never discounted


async def test_quote_equals_receipt(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "dairy", "MILK"), line(100, "fruit", "APPLE"))
    await promo(
        shop,
        {
            "name": "Фрукты 10%",
            "conditions": [{"kind": "lines", "categories": ["fruit"]}],
            "effects": [{"kind": "rate", "rate_bp": 1000}],
        },
    )
    await promo(
        shop,
        {
            "name": "Молоко 2+1",
            "conditions": [{"kind": "lines", "skus": ["MILK"]}],
            "effects": [{"kind": "n_for_m", "take": 3, "pay": 2}],
        },
    )
    await promo(
        shop,
        {
            "name": "10 за 100",
            "effects": [{"kind": "per_amount", "points": 10, "per_kopecks": 10_000}],
        },
    )
    anna = await shop.enrol()
    await shop.give_points(anna.account_id, 100)
    lines = [
        line(27_000, "dairy", "MILK", quantity=3),
        line(45_050, "fruit", "APPLE", 1.5),
        line(99_900, "alcohol", "WINE"),
    ]
    quoted = await quote(shop, anna.card, lines, redeem_points=50)
    posted = await shop.receipt(anna.card, "R1", lines, redeem=50)
    for field in (
        "lines",
        "earned_points",
        "paid_kopecks",
        "discount_kopecks",
        "promotions",
        "not_applied",
        "explanation",
        "redeemed_kopecks",
    ):
        assert quoted[field] == posted[field], field
    assert posted["discount_kopecks"] == 9_000


async def test_bad_promotions_are_refused_with_a_code_and_change_nothing(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "dairy", "MILK"))
    now = clock.now()

    async def refused(body: dict[str, Any]) -> tuple[int, str]:
        reply = await client.post(PATH, json={"name": "x", **body}, headers=bearer(shop.admin_key))
        return reply.status_code, reply.json()["code"]

    points = [{"kind": "receipt_bonus", "points": 1}]
    assert await refused({"effects": points, "colour": "red"}) == (400, "invalid_request")
    # A promotion that gives nothing (found by the API fuzzer: it was a 500).
    assert await refused({}) == (400, "invalid_request")
    assert await refused({"effects": []}) == (400, "invalid_request")
    assert await refused({"effects": [{"kind": "multiplier", "times": 0}]}) == (
        422,
        "multiplier_out_of_range",
    )
    assert await refused({"effects": [{"kind": "multiplier", "times": 101}]}) == (
        422,
        "multiplier_out_of_range",
    )
    window = {"kind": "window", "starts_at": iso(now), "ends_at": iso(now - timedelta(days=1))}
    assert await refused({"conditions": [window], "effects": points}) == (
        422,
        "window_ends_before_start",
    )
    assert await refused(
        {"conditions": [{"kind": "stores", "codes": ["NOPE"]}], "effects": points}
    ) == (422, "unknown_store")
    assert await refused(
        {"conditions": [{"kind": "segments", "ids": [999]}], "effects": points}
    ) == (422, "unknown_segment")
    assert await refused(
        {"conditions": [{"kind": "lines", "categories": ["caviar"]}], "effects": points}
    ) == (422, "unknown_category")
    assert await refused(
        {"conditions": [{"kind": "lines", "skus": ["NOPE"]}], "effects": points}
    ) == (422, "unknown_sku")
    assert await refused({"effects": [{"kind": "set", "skus": ["MILK"], "price_kopecks": 1}]}) == (
        422,
        "set_too_small",
    )
    listed = await client.get(PATH, headers=bearer(shop.admin_key))
    assert listed.json() == []
    assert (
        await client.post(PATH, json={"name": "x", "effects": points}, headers=bearer(shop.pos_key))
    ).status_code == 403


async def test_saving_a_promotion_that_cannot_stack_with_another_warns_naming_it(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "dairy"))
    first = await promo(
        shop,
        {
            "name": "Молочка −20%",
            "stacking": "exclusive",
            "conditions": [{"kind": "lines", "categories": ["dairy"]}],
            "effects": [{"kind": "percent_off", "percent_bp": 2000}],
        },
    )
    second = await promo(
        shop,
        {
            "name": "Молочка ×3",
            "conditions": [{"kind": "lines", "categories": ["dairy"]}],
            "effects": [{"kind": "multiplier", "times": 3}],
        },
        activate=False,
    )
    assert len(second["warnings"]) == 1 and f"promotion {first['id']}" in second["warnings"][0]
    assert "Молочка −20%" in second["warnings"][0]


async def test_lifecycle_and_simulation_on_real_receipts(client):
    shop = await Shop.open(client)
    anna = await shop.enrol()
    for n in range(3):
        await shop.receipt(
            anna.card, f"H{n}", [line(200_000, "dairy")], at=clock.now() - timedelta(days=n + 1)
        )
    draft = await promo(
        shop,
        {
            "name": "Молочка 100 баллов",
            "conditions": [{"kind": "lines", "categories": ["dairy"]}],
            "effects": [
                {"kind": "threshold_gift", "threshold_kopecks": 150_000, "points": 100},
                {"kind": "percent_off", "percent_bp": 500},
            ],
        },
        activate=False,
    )
    sim = await client.post(
        f"{PATH}/{draft['id']}/simulate", json={"days": 7}, headers=bearer(shop.admin_key)
    )
    assert sim.status_code == 200, sim.text
    assert sim.json() == {
        "days": 7,
        "receipts_seen": 3,
        "receipts_matched": 3,
        "points": 300,
        "discount_kopecks": 30_000,
        "cost_kopecks": 60_000,
        "shoppers_reached": 1,
    }
    # A draft gives nothing at the till.
    assert (await shop.receipt(anna.card, "D1", [line(200_000, "dairy")]))["promotions"] == []
    for action, status in (
        ("activate", "active"),
        ("pause", "paused"),
        ("activate", "active"),
        ("end", "ended"),
    ):
        reply = await client.post(f"{PATH}/{draft['id']}/{action}", headers=bearer(shop.admin_key))
        assert reply.status_code == 200 and reply.json()["status"] == status
    again = await client.post(f"{PATH}/{draft['id']}/activate", headers=bearer(shop.admin_key))
    assert again.status_code == 422 and again.json()["code"] == "wrong_status"


async def test_cashier_discount_within_the_store_limit_is_audited_and_above_it_refused(client):
    shop = await Shop.open(client)
    policy = await client.put(
        f"{PATH}/manual-discounts/MSK-001",
        json={"max_line_share_bp": 1000, "reasons": ["damaged", "expiring"]},
        headers=bearer(shop.admin_key),
    )
    assert policy.status_code == 200, policy.text
    anna = await shop.enrol()
    ok = {**line(10_000), "manual_discount": {"reason": "damaged", "percent_bp": 1000}}
    result = await shop.receipt(anna.card, "M1", [ok])
    assert result["lines"][0]["discounts"] == [
        {"promotion_id": 0, "kind": "manual", "kopecks": 1_000}
    ]
    assert result["paid_kopecks"] == 9_000
    over = {**line(10_000), "manual_discount": {"reason": "damaged", "kopecks": 1_001}}
    refused = await shop.receipt(anna.card, "M2", [over], expect=422)
    assert refused["code"] == "manual_discount_refused"
    assert refused["details"]["max_kopecks"] == 1_000
    odd = {**line(10_000), "manual_discount": {"reason": "friend", "kopecks": 10}}
    assert (await shop.receipt(anna.card, "M3", [odd], expect=422))[
        "code"
    ] == "manual_discount_refused"
    from wallet import db

    rows = await db.fetch(
        "SELECT actor, subject, details FROM audit_event WHERE action = 'receipt.manual_discount'"
    )
    assert len(rows) == 1 and rows[0]["subject"].startswith("store:")
