"""Points mature and burn with time, and the passes hear of it without a new receipt."""

from __future__ import annotations

from datetime import timedelta

from tests.support.shop import Shop, bearer, line
from wallet import clock
from wallet.ledger import reads as ledger_reads
from wallet.ledger import service as ledger
from wallet.platform import worker
from wallet.platform.tables import OutboxJob


async def _waiting_pass_update(account_id: int) -> bool:
    return await OutboxJob.exists().where(
        (OutboxJob.dedupe_key == f"pass:account:{account_id}") & (OutboxJob.status == "pending")
    )


async def test_matured_pending_points_become_spendable_and_update_the_pass(client):
    shop = await Shop.open(client)
    rules = await client.put(
        "/api/v1/admin/rules", json={"pending_days": 14}, headers=bearer(shop.admin_key)
    )
    assert rules.status_code == 200, rules.text
    shopper = await shop.enrol()
    now = clock.now()
    await shop.receipt(shopper.card, "R1", [line(100_000)], at=now)
    await worker.run_until_idle()
    assert not await _waiting_pass_update(shopper.account_id)

    assert await ledger.expire_due(now=now + timedelta(days=13)) == 0
    assert await ledger.expire_due(now=now + timedelta(days=15)) == 1
    state = await ledger_reads.summary(shopper.account_id, now=now + timedelta(days=15))
    assert (state.balance, state.pending) == (50, 0)
    assert await _waiting_pass_update(shopper.account_id)


async def test_the_clock_expires_points_past_their_date(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    now = clock.now()
    earned = await shop.receipt(shopper.card, "R1", [line(100_000)], at=now - timedelta(days=10))
    assert earned["balance_after"] == 50
    assert await ledger.expire_due(now=now + timedelta(days=200)) == 1
    state = await ledger_reads.summary(shopper.account_id, now=now + timedelta(days=200))
    assert state.balance == 0
    history = await client.get("/api/v1/me/history", headers=shopper.headers)
    assert [(i["kind"], i["points"]) for i in history.json()["items"]][:1] == [("expire", -50)]
