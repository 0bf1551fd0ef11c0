"""A till's day, through the HTTP API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.support.shop import Shop, bearer, iso, line
from wallet import clock


async def test_enrolment_issues_a_virtual_card_and_a_token(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol("Анна Смирнова", email="anna@example.ru")
    assert len(shopper.card) == 16 and shopper.card.isdigit()
    me = await shop.me(shopper)
    assert me["balance"] == 0
    assert me["cards"] == [
        {
            "number": shopper.card,
            "kind": "virtual",
            "role": "main",
            "status": "active",
            "holder_name": "Анна Смирнова",
        }
    ]
    assert me["links"]["qr_png"].endswith(f"/api/v1/me/cards/{shopper.card}/qr.png")


async def test_enrolment_retried_with_the_same_key_creates_one_shopper(client):
    body = {
        "name": "Иван",
        "phone": "+79161234567",
        "consents": {"program": True, "personal_data": True, "terms_version": "v1"},
    }
    headers = {"Idempotency-Key": "tap-1"}
    first = await client.post("/api/v1/cards", json=body, headers=headers)
    second = await client.post("/api/v1/cards", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["card_number"] == second.json()["card_number"]
    other = await client.post("/api/v1/cards", json={**body, "name": "Пётр"}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"


async def test_enrolment_without_consent_is_refused(client):
    reply = await client.post(
        "/api/v1/cards",
        json={
            "name": "Иван",
            "email": "i@example.ru",
            "consents": {"program": True, "personal_data": False, "terms_version": "v1"},
        },
    )
    assert reply.status_code == 422 and reply.json()["code"] == "invalid_input"


async def test_identify_shows_balance_and_spendable_points(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.receipt(shopper.card, "R1", [line(100_000)])
    reply = await client.get(f"/api/v1/pos/cards/{shopper.card}", headers=bearer(shop.pos_key))
    assert reply.status_code == 200
    assert reply.json() | {"account_id": 0} == {
        "card_number": shopper.card,
        "status": "active",
        "account_id": 0,
        "balance": 50,
        "pending": 0,
        "spendable_now": 50,
        "tier": "Базовый",
    }


async def test_receipt_earns_on_money_paid_and_excludes_alcohol(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.give_points(shopper.account_id, 100)
    result = await shop.receipt(
        shopper.card,
        "R1",
        [line(50_000, "grocery"), line(30_000, "alcohol", sku="WINE")],
        redeem=100,
    )
    # 100 points pay 10,000 kopecks of the grocery line (never the wine); 5% of the
    # 40,000 kopecks of grocery paid with money earns 20 points; wine earns nothing.
    assert result["redeemed_kopecks"] == 10_000
    assert result["paid_kopecks"] == 70_000
    assert result["earned_points"] == 20
    assert result["lines"][1]["redeemed_kopecks"] == 0
    assert result["lines"][1]["earned_points"] == 0
    assert "alcohol earns no points" in result["lines"][1]["notes"]
    assert result["explanation"]["earn"][0]["base_kopecks"] == 40_000
    assert result["balance_after"] == 20


async def test_quote_matches_the_receipt_that_follows(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.give_points(shopper.account_id, 300)
    lines = [line(12_345, "grocery"), line(6_789, "household", sku="S2"), line(999, "tobacco")]
    quote = await client.post(
        "/api/v1/pos/quotes",
        json={"card_number": shopper.card, "lines": lines, "redeem_points": 150},
        headers=bearer(shop.pos_key),
    )
    assert quote.status_code == 200, quote.text
    posted = await shop.receipt(shopper.card, "R1", lines, redeem=150)
    for field in (
        "redeemed_points",
        "redeemed_kopecks",
        "paid_kopecks",
        "earned_points",
        "lines",
        "explanation",
    ):
        assert quote.json()[field] == posted[field], field


async def test_asking_more_points_than_allowed_is_refused_with_the_cap(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.give_points(shopper.account_id, 1_000)
    refused = await shop.receipt(
        shopper.card, "R1", [line(10_000), line(50_000, "alcohol")], redeem=100, expect=422
    )
    # Only the 10,000-kopeck grocery line may be paid, at most 99% of it: 99 points.
    assert refused["code"] == "redemption_over_cap"
    assert refused["details"]["cap"] == 99
    assert refused["details"]["excluded_categories"] == ["alcohol"]
    assert (await shop.me(shopper))["balance"] == 1_000


async def test_a_retried_receipt_counts_once_even_twenty_at_once(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    at = clock.now() - timedelta(minutes=1)
    replies = await asyncio.gather(
        *[shop.receipt(shopper.card, "R-SAME", [line(100_000)], at=at) for _ in range(20)]
    )
    assert all(reply == replies[0] for reply in replies)
    assert (await shop.me(shopper))["balance"] == 50


async def test_same_receipt_id_with_another_body_is_a_conflict(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    at = clock.now() - timedelta(minutes=1)
    await shop.receipt(shopper.card, "R1", [line(100_000)], at=at)
    conflict = await shop.receipt(shopper.card, "R1", [line(200_000)], at=at, expect=409)
    assert conflict["code"] == "receipt_conflict"
    assert (await shop.me(shopper))["balance"] == 50


async def test_fifty_concurrent_redemptions_never_overdraw(client):
    shop = await Shop.open(client)
    # No earning, so the balance only goes down and the count of successes is exact.
    rules = await client.put(
        "/api/v1/admin/rules", json={"earn_rate_bp": 0, "tiers": []}, headers=bearer(shop.admin_key)
    )
    assert rules.status_code == 200, rules.text
    shopper = await shop.enrol()
    await shop.give_points(shopper.account_id, 1_000)

    async def spend(index: int) -> int:
        reply = await client.post(
            "/api/v1/pos/receipts",
            json={
                "receipt_id": f"R{index}",
                "card_number": shopper.card,
                "occurred_at": iso(clock.now()),
                "lines": [line(10_000_00, "household")],
                "redeem_points": 30,
            },
            headers=bearer(shop.pos_key),
        )
        assert reply.status_code in (201, 422), reply.text
        return reply.status_code

    codes = await asyncio.gather(*[spend(i) for i in range(50)])
    # 1,000 points pay 33 receipts of 30 points; the other 17 are refused, none overdraws.
    assert codes.count(201) == 33
    assert (await shop.me(shopper))["balance"] == 10
    history = await client.get("/api/v1/me/history?limit=100", headers=shopper.headers)
    redeemed = sum(-i["points"] for i in history.json()["items"] if i["kind"] == "redeem")
    assert redeemed == 990


async def test_spending_takes_the_oldest_expiring_points_first(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    now = clock.now()
    # Earned 4 months ago (burns in 2 months), then a week ago (burns in ~6 months).
    await shop.receipt(shopper.card, "OLD", [line(200_000)], at=now - timedelta(days=120))
    await shop.receipt(shopper.card, "NEW", [line(400_000)], at=now - timedelta(days=7))
    before = await shop.me(shopper)
    assert before["balance"] == 300
    assert before["next_expiry"]["points"] == 100
    await shop.receipt(shopper.card, "SPEND", [line(100_000, "household")], redeem=60)
    after = await shop.me(shopper)
    assert after["next_expiry"]["points"] == 40
    assert after["next_expiry"]["expires_at"] == before["next_expiry"]["expires_at"]


async def test_pending_points_are_shown_but_cannot_be_spent(client):
    shop = await Shop.open(client)
    rules = await client.put(
        "/api/v1/admin/rules", json={"pending_days": 14}, headers=bearer(shop.admin_key)
    )
    assert rules.status_code == 200, rules.text
    shopper = await shop.enrol()
    # Rules apply by the receipt's time: this one comes after the change.
    earned = await shop.receipt(shopper.card, "R1", [line(100_000)], at=clock.now())
    assert earned["pending_after"] == 50 and earned["balance_after"] == 0
    me = await shop.me(shopper)
    assert me["pending"] == 50 and me["balance"] == 0
    assert me["pending_lots"][0]["points"] == 50
    refused = await shop.receipt(shopper.card, "R2", [line(10_000)], redeem=10, expect=422)
    assert refused["details"]["by_balance"] == 0


async def test_return_after_partial_spending_gives_back_and_takes_back_exactly(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.give_points(shopper.account_id, 200)
    sale = await shop.receipt(
        shopper.card, "SALE", [line(100_000, sku="TV"), line(100_000, sku="RADIO")], redeem=200
    )
    # 200 points pay 20,000 kopecks (10,000 per line); 180,000 paid earns 90 points.
    assert sale["earned_points"] == 90 and sale["balance_after"] == 90
    # Spends 60 of the sale's 90 points; the 4,000 kopecks paid earn 2 more.
    await shop.receipt(shopper.card, "SPEND", [line(10_000)], redeem=60)
    returned = await client.post(
        "/api/v1/pos/receipts/SALE/returns",
        json={"return_id": "RET-1", "occurred_at": iso(clock.now()), "lines": [{"line": 1}]},
        headers=bearer(shop.pos_key),
    )
    assert returned.status_code == 201, returned.text
    data = returned.json()
    # Line 1 earned 45 and redeemed 100 points: 100 come back, 45 go.
    assert data["refunded_points"] == 100
    assert data["reversed_points"] == 45
    assert data["refund_money_kopecks"] == 90_000
    # The sale's lot had 90 - 60 spent = 30 left; the other 15 come from the refund.
    assert data["reversal"] == {"from_receipt_lot": 30, "from_balance": 15, "owed": 0}
    me = await shop.me(shopper)
    assert me["balance"] == 90 - 60 + 2 + 100 - 45
    again = await client.post(
        "/api/v1/pos/receipts/SALE/returns",
        json={"return_id": "RET-1", "occurred_at": iso(clock.now()), "lines": [{"line": 1}]},
        headers=bearer(shop.pos_key),
    )
    assert again.status_code in (201, 409)
    whole = await client.post(
        "/api/v1/pos/receipts/SALE/returns",
        json={"return_id": "RET-2", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert whole.status_code == 201, whole.text
    assert whole.json()["refunded_points"] == 100
    assert whole.json()["reversed_points"] == 45
    too_much = await client.post(
        "/api/v1/pos/receipts/SALE/returns",
        json={"return_id": "RET-3", "occurred_at": iso(clock.now()), "lines": [{"line": 2}]},
        headers=bearer(shop.pos_key),
    )
    assert too_much.status_code == 422 and too_much.json()["code"] == "return_exceeds_receipt"


async def test_return_of_spent_points_records_a_debt_repaid_by_the_next_receipt(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.receipt(shopper.card, "SALE", [line(100_000)])
    await shop.receipt(shopper.card, "SPEND", [line(10_000)], redeem=50)
    returned = await client.post(
        "/api/v1/pos/receipts/SALE/returns",
        json={"return_id": "RET-1", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert returned.status_code == 201, returned.text
    # The sale's 50 points were spent; the spend itself earned 2, which go first.
    assert returned.json()["reversal"] == {"from_receipt_lot": 0, "from_balance": 2, "owed": 48}
    assert (await shop.me(shopper))["debt"] == 48
    await shop.receipt(shopper.card, "NEXT", [line(200_000)])
    me = await shop.me(shopper)
    assert me["debt"] == 0 and me["balance"] == 100 - 48


async def test_replaced_card_keeps_the_balance_and_the_old_number_is_refused(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.receipt(shopper.card, "R1", [line(100_000)])
    replaced = await client.post(
        f"/api/v1/admin/cards/{shopper.card}/replace",
        json={"reason": "lost phone"},
        headers=bearer(shop.support_key),
    )
    assert replaced.status_code == 200, replaced.text
    new = replaced.json()["new_number"]
    identify = await client.get(f"/api/v1/pos/cards/{new}", headers=bearer(shop.pos_key))
    assert identify.json()["balance"] == 50
    refused = await shop.receipt(shopper.card, "R2", [line(1_000)], expect=422)
    assert refused["code"] == "card_not_active"
    assert refused["details"]["replaced_by"] == new


async def test_family_card_purchases_land_on_one_account(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    added = await client.post(
        f"/api/v1/admin/accounts/{shopper.account_id}/cards",
        json={"kind": "plastic", "role": "family", "holder_name": "Сын"},
        headers=bearer(shop.support_key),
    )
    assert added.status_code == 201, added.text
    family = added.json()["number"]
    await shop.receipt(shopper.card, "R1", [line(100_000)])
    await shop.receipt(family, "R2", [line(100_000)])
    await shop.receipt(family, "R3", [line(10_000)], redeem=80)
    me = await shop.me(shopper)
    assert me["balance"] == 50 + 50 - 80 + 1
    assert {card["number"] for card in me["cards"]} == {shopper.card, family}


async def test_blocked_card_is_refused_at_the_till(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    blocked = await client.post(
        f"/api/v1/admin/cards/{shopper.card}/block",
        json={"reason": "stolen"},
        headers=bearer(shop.support_key),
    )
    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked"
    refused = await shop.receipt(shopper.card, "R1", [line(1_000)], expect=422)
    assert refused["code"] == "card_not_active"


async def test_bad_receipts_are_refused_and_change_nothing(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    now = clock.now()
    good = {
        "receipt_id": "R1",
        "card_number": shopper.card,
        "occurred_at": iso(now),
        "lines": [line(1_000)],
    }
    cases = [
        ({**good, "surprise": 1}, 400, "invalid_request"),
        ({**good, "lines": []}, 400, "invalid_request"),
        ({**good, "lines": [line(-5)]}, 400, "invalid_request"),
        ({**good, "card_number": "1234"}, 400, "invalid_request"),
        (
            {**good, "card_number": shopper.card[:-1] + str((int(shopper.card[-1]) + 1) % 10)},
            422,
            "invalid_input",
        ),
        ({**good, "occurred_at": iso(now + timedelta(hours=1))}, 422, "invalid_input"),
        ({**good, "occurred_at": iso(now - timedelta(days=800))}, 422, "invalid_input"),
        ({**good, "occurred_at": "2026-01-01T10:00:00"}, 422, "invalid_input"),
        ({**good, "redeem_points": -1}, 400, "invalid_request"),
    ]
    for body, status, code in cases:
        reply = await client.post("/api/v1/pos/receipts", json=body, headers=bearer(shop.pos_key))
        assert (reply.status_code, reply.json()["code"]) == (status, code), (body, reply.text)
    assert (await shop.me(shopper))["balance"] == 0
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    assert history.json()["items"] == []


async def test_keys_are_checked_and_roles_enforced(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    path = f"/api/v1/pos/cards/{shopper.card}"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=bearer("wk_pos_nonsense"))).status_code == 401
    forbidden = await client.get(path, headers=shopper.headers)
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    assert (
        await client.get("/api/v1/admin/rules", headers=bearer(shop.pos_key))
    ).status_code == 403


async def test_adjustment_is_audited_and_cannot_overdraw(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    headers = {**bearer(shop.support_key), "Idempotency-Key": "adj-1"}
    body = {"points": 120, "reason": "compensation for a broken till"}
    first = await client.post(
        f"/api/v1/admin/accounts/{shopper.account_id}/adjustments", json=body, headers=headers
    )
    second = await client.post(
        f"/api/v1/admin/accounts/{shopper.account_id}/adjustments", json=body, headers=headers
    )
    assert first.status_code == second.status_code == 201
    assert (await shop.me(shopper))["balance"] == 120
    overdraw = await client.post(
        f"/api/v1/admin/accounts/{shopper.account_id}/adjustments",
        json={"points": -500, "reason": "mistake"},
        headers=bearer(shop.support_key),
    )
    assert overdraw.status_code == 422 and overdraw.json()["code"] == "insufficient_points"
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    assert [(i["kind"], i["points"], i["reason"]) for i in history.json()["items"]] == [
        ("adjust", 120, "compensation for a broken till")
    ]


async def test_health_ready_and_the_manual(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready"}
    schema = (await client.get("/schema/openapi.json")).json()
    receipts = schema["paths"]["/api/v1/pos/receipts"]["post"]
    assert receipts["operationId"] == "postReceipt"
    assert {"401", "409", "422"} <= set(receipts["responses"])


async def test_points_never_pay_for_an_excluded_line_and_a_refusal_names_its_limit(client):
    shop = await Shop.open(client)
    rich = await shop.enrol("Богдан Богатый")
    poor = await shop.enrol("Пётр Бедный")
    await shop.give_points(rich.account_id, 1_000)
    await shop.give_points(poor.account_id, 50)
    lines = [line(10_000), line(50_000, "alcohol", sku="WINE")]

    by_share = await shop.receipt(rich.card, "R1", lines, redeem=100, expect=422)
    assert "limited by the share of the receipt" in by_share["message"]
    assert by_share["details"]["requested"] == 100
    assert by_share["details"]["eligible_kopecks"] == 10_000
    by_balance = await shop.receipt(poor.card, "P1", lines, redeem=60, expect=422)
    assert "limited by the balance" in by_balance["message"]
    assert (by_balance["details"]["cap"], by_balance["details"]["requested"]) == (50, 60)

    # At the cap every kopeck of the points lands on the grocery line, none on the wine.
    paid = await shop.receipt(rich.card, "R2", lines, redeem=99)
    assert [item["redeemed_kopecks"] for item in paid["lines"]] == [9_900, 0]
    assert [item["notes"][:1] for item in paid["lines"]] == [[], ["points cannot pay for alcohol"]]
    assert paid["explanation"]["redeem"]["eligible_kopecks"] == 10_000


async def test_a_receipt_whose_id_holds_a_slash_can_be_returned(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    sale = await shop.receipt(shopper.card, "SL/1", [line(100_000), line(50_000, sku="SKU-2")])
    assert sale["earned_points"] > 0
    body = {"receipt_id": "SL/1", "return_id": "RET/1", "occurred_at": iso(clock.now())}
    returned = await client.post("/api/v1/pos/returns", json=body, headers=bearer(shop.pos_key))
    assert returned.status_code == 201, returned.text
    assert returned.json()["reversed_points"] == sale["earned_points"]
    assert (await shop.me(shopper))["balance"] == 0
    again = await client.post("/api/v1/pos/returns", json=body, headers=bearer(shop.pos_key))
    assert again.status_code in (200, 201) and again.json() == returned.json()
    unknown = await client.post(
        "/api/v1/pos/returns",
        json={**body, "receipt_id": "SL/2", "return_id": "RET/2"},
        headers=bearer(shop.pos_key),
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "receipt_not_found"
