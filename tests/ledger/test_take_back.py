"""What a return takes back: first whatever is left of the receipt's own lot (to its last
point, pending or not), then the balance to its last point, and only then debt; each part
shown in the shopper's history as a return of that receipt."""

from __future__ import annotations

from tests.support.shop import Shop, bearer, iso, line
from wallet import clock


async def _return_all(shop: Shop, receipt_id: str) -> dict:
    reply = await shop.client.post(
        f"/api/v1/pos/receipts/{receipt_id}/returns",
        json={"return_id": f"RET-{receipt_id}", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_a_return_takes_the_last_point_of_its_lot_then_the_last_of_the_balance(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    sale = await shop.receipt(shopper.card, "SALE", [line(100_000)])
    assert sale["earned_points"] == 50
    # 49 of the sale's points pay for 49 ₽ of a 69 ₽ basket; the 20 ₽ paid earn 1 point.
    spend = await shop.receipt(shopper.card, "SPEND", [line(6_900)], redeem=49)
    assert (spend["earned_points"], spend["balance_after"]) == (1, 2)

    returned = await _return_all(shop, "SALE")
    assert returned["reversed_points"] == 50
    assert returned["reversal"] == {"from_receipt_lot": 1, "from_balance": 1, "owed": 48}
    me = await shop.me(shopper)
    assert (me["balance"], me["debt"]) == (0, 48)
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    newest = [(i["kind"], i["points"], i["receipt_id"]) for i in history.json()["items"][:3]]
    assert newest == [("debt", -48, "SALE"), ("return", -1, "SALE"), ("return", -1, "SALE")]


async def test_a_return_of_a_spent_lot_writes_no_empty_line_to_the_history(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.receipt(shopper.card, "SALE", [line(100_000)])
    await shop.receipt(shopper.card, "SPEND", [line(6_000)], redeem=50)

    returned = await _return_all(shop, "SALE")
    assert returned["reversal"] == {"from_receipt_lot": 0, "from_balance": 0, "owed": 50}
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    kinds = [(i["kind"], i["points"]) for i in history.json()["items"]]
    assert ("return", 0) not in kinds and kinds[0] == ("debt", -50)


async def test_a_return_while_the_points_are_pending_takes_them_from_pending(client):
    shop = await Shop.open(client)
    rules = await client.put(
        "/api/v1/admin/rules", json={"pending_days": 14}, headers=bearer(shop.admin_key)
    )
    assert rules.status_code == 200, rules.text
    shopper = await shop.enrol()
    await shop.give_points(shopper.account_id, 30)
    sale = await shop.receipt(shopper.card, "SALE", [line(100_000)], at=clock.now())
    assert (sale["pending_after"], sale["balance_after"]) == (50, 30)

    returned = await _return_all(shop, "SALE")
    assert returned["reversal"] == {"from_receipt_lot": 50, "from_balance": 0, "owed": 0}
    me = await shop.me(shopper)
    assert (me["balance"], me["pending"], me["debt"]) == (30, 0, 0)


async def test_a_second_return_adds_to_the_debt_already_owed(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.receipt(shopper.card, "SALE1", [line(100_000)])
    await shop.receipt(shopper.card, "SALE2", [line(100_000)])
    spend = await shop.receipt(shopper.card, "SPEND", [line(10_200)], redeem=100)
    assert (spend["earned_points"], spend["balance_after"]) == (0, 0)

    assert (await _return_all(shop, "SALE1"))["reversal"]["owed"] == 50
    assert (await _return_all(shop, "SALE2"))["reversal"]["owed"] == 50
    assert (await shop.me(shopper))["debt"] == 100
