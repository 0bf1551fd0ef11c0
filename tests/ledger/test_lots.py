"""Lots through their life: matured points still burn on their date, a redemption may need
the last point of a second lot, and a refund gives points back with the expiry of the lots
that receipt took them from (not another receipt's)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.support.shop import Shop, bearer, iso, line
from wallet import clock
from wallet.ledger import service as ledger
from wallet.ledger.tables import Account


async def _stored(account_id: int) -> dict:
    """The account's totals as the ledger saved them (no clock settled on read)."""
    row = (
        await Account.select(Account.balance, Account.pending)
        .where(Account.id == account_id)
        .first()
    )
    assert row is not None
    return row


async def test_points_that_matured_still_expire_on_their_date(client):
    shop = await Shop.open(client)
    rules = await client.put(
        "/api/v1/admin/rules", json={"pending_days": 14}, headers=bearer(shop.admin_key)
    )
    assert rules.status_code == 200, rules.text
    shopper = await shop.enrol()
    now = clock.now()
    sale = await shop.receipt(shopper.card, "R1", [line(100_000)], at=now)
    expires_at = datetime.fromisoformat(sale["earned_expires_at"])

    assert await ledger.expire_due(now=now + timedelta(days=15)) == 1
    assert (await shop.me(shopper))["balance"] == 50
    assert await ledger.expire_due(now=expires_at) == 1
    state = await _stored(shopper.account_id)
    assert (state["balance"], state["pending"]) == (0, 0)


async def test_a_redemption_takes_the_one_point_it_needs_from_a_second_lot(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await shop.receipt(shopper.card, "OLD", [line(100_000)], at=clock.now() - timedelta(days=10))
    await shop.give_points(shopper.account_id, 10)

    spent = await shop.receipt(shopper.card, "SPEND", [line(10_000)], redeem=51)
    assert spent["redeemed_points"] == 51
    me = await shop.me(shopper)
    assert me["balance"] == 9 + spent["earned_points"]


async def test_a_refund_keeps_the_expiry_of_the_lots_its_own_receipt_spent(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    old = await shop.receipt(
        shopper.card, "OLD", [line(100_000)], at=clock.now() - timedelta(days=10)
    )
    await shop.give_points(shopper.account_id, 40)
    # R1 spends the old receipt's 50 points (soonest to expire), R2 the 40 given later.
    first = await shop.receipt(shopper.card, "R1", [line(5_100)], redeem=50)
    assert first["earned_points"] == 0
    await shop.receipt(shopper.card, "R2", [line(50_000)], redeem=40)
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    [given] = [i for i in history.json()["items"] if i["kind"] == "adjust"]

    returned = await client.post(
        "/api/v1/pos/receipts/R2/returns",
        json={"return_id": "RET-R2", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert returned.status_code == 201, returned.text
    assert returned.json()["refunded_points"] == 40
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    refunds = [i for i in history.json()["items"] if i["kind"] == "refund"]
    assert [(i["points"], i["lot_expires_at"]) for i in refunds] == [(40, given["lot_expires_at"])]
    assert given["lot_expires_at"] != old["earned_expires_at"]
