"""The liability of the present is read from the lots as they stand, a past moment's is
rebuilt from the journal: for the same moment both must give the same report, whatever
the ledger went through (expired lots swept or not, pending lots, a return that left a
debt, a merged card, tiers on every basis)."""

from __future__ import annotations

from datetime import timedelta

from tests.support.shop import Shop, bearer, iso, line
from wallet import clock, db
from wallet.ledger import service as ledger
from wallet.reports import service


async def _set_rules(shop: Shop, body: dict[str, object]) -> None:
    reply = await shop.client.put("/api/v1/admin/rules", json=body, headers=bearer(shop.admin_key))
    assert reply.status_code == 200, reply.text


async def test_the_present_read_from_lots_equals_the_moment_rebuilt_from_the_journal(client):
    shop = await Shop.open(client)
    now = clock.now()
    # Rules in force over the whole history (the spend of last year counts on a calendar
    # basis, a year back on a rolling one).
    await _set_rules(shop, {"effective_from": iso(now - timedelta(days=500))})
    long_ago = now - timedelta(days=200)

    # A lot the sweep expired, and one past its date the sweep has not reached.
    erin = await shop.enrol("Эрин Ким")
    await shop.receipt(erin.card, "E0", [line(80_000)], at=long_ago)
    await ledger.expire_due(now=clock.now())
    anna = await shop.enrol("Анна Смирнова")
    await shop.receipt(anna.card, "A0", [line(100_000)], at=long_ago)
    # Last year's spend puts Anna in the upper tier on every basis; the later receipt is
    # partly paid with points.
    await shop.receipt(anna.card, "A1", [line(1_600_000)], at=now - timedelta(days=40))
    await shop.receipt(anna.card, "A2", [line(20_000)], redeem=30)

    # Boris spends what a receipt earned, then returns that receipt: a debt.
    boris = await shop.enrol("Борис Петров")
    await shop.receipt(boris.card, "B1", [line(200_000)])
    await shop.receipt(boris.card, "B2", [line(50_000)], redeem=90)
    returned = await client.post(
        "/api/v1/pos/receipts/B1/returns",
        json={"return_id": "RET-B1", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert returned.status_code == 201, returned.text

    # Gleb's card (and its lots and spend) joins Vera's account.
    vera = await shop.enrol("Вера Иванова")
    await shop.give_points(vera.account_id, 70)
    gleb = await shop.enrol("Глеб Орлов")
    await shop.receipt(gleb.card, "G1", [line(300_000)], at=now - timedelta(days=3))
    async with db.write_transaction():
        await ledger.merge_accounts(gleb.account_id, vera.account_id, now=clock.now(), actor="t")

    # Points that are pending for two weeks.
    await _set_rules(shop, {"pending_days": 14, "effective_from": iso(now - timedelta(hours=1))})
    dan = await shop.enrol("Дан Лис")
    await shop.receipt(dan.card, "D1", [line(100_000)])

    for basis in ("lifetime", "rolling", "calendar"):
        await _set_rules(shop, {"tier_basis": basis, "tier_window_months": 12})
        moment = clock.now()
        present = await service.liability(moment, now=moment)
        rebuilt = await service.liability(moment, now=moment + timedelta(seconds=1))
        assert present == rebuilt, basis
        total = present.total
        assert total.balance_points > 0 and total.pending_points > 0, basis
        assert total.debt_points > 0, basis
        assert [t.accounts > 0 for t in present.by_tier] == [True, True], basis
        assert sum(e.points for e in present.expiring) == total.outstanding_points

    # The report matches what the accounts hold once the sweep has run.
    await ledger.expire_due(now=clock.now())
    held = await db.raw(
        "SELECT SUM(balance) AS balance, SUM(pending) AS pending, SUM(debt) AS debt FROM account"
    )
    moment = clock.now()
    report = await service.liability(moment, now=moment)
    assert (report.total.balance_points, report.total.pending_points) == (
        int(held[0]["balance"]),
        int(held[0]["pending"]),
    )
    assert report.total.debt_points == int(held[0]["debt"])
