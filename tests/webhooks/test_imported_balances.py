"""Opening balances brought by an import tell ``points.changed`` for every account they
credit, as the ledger's door does for one account and the month-end cashback for a set: on
SQLite and PostgreSQL, to a loopback receiver that checks every signature, one event per
account and batch (each batch is its own transaction), and nothing again on a second run of
the same file."""

from __future__ import annotations

import io

from tests.imports.support import csv_file, future, members_file, ru
from tests.support.shop import Shop
from tests.webhooks.test_webhooks import log, register
from wallet import clock, db
from wallet.imports import service as imports
from wallet.ledger import reads as ledger_reads
from wallet.platform import worker


async def _import(kind: str, data: bytes, *, batch_rows: int = 2000) -> imports.ImportReport:
    return await imports.run(
        kind, io.BytesIO(data), now=clock.now(), actor="test", batch_rows=batch_rows
    )


async def _accounts() -> dict[str, int]:
    rows = await db.fetch("SELECT key, account_id FROM import_key WHERE key LIKE 'members:%'")
    return {str(row["key"]).split(":", 1)[1]: int(row["account_id"]) for row in rows}


BALANCES = csv_file(
    "balances",
    [
        f"B1;M1;1200;01.01.2024 10:00;{ru(future(90))}",
        f"B2;M2;50;;{ru(future(90))}",
        f"B3;M1;300;01.02.2024 10:00;{ru(future(400))}",
    ],
)


async def test_imported_opening_balances_tell_points_changed_once_per_account_and_batch(
    client, receiver
):
    shop = await Shop.open(client)
    # Registered first: the receiver checks signatures with the last secret registered.
    receipts_only = await register(shop, receiver, ["receipt.posted"])
    webhook_id = await register(shop, receiver, ["points.changed"])
    await _import("members", members_file(3))
    report = await _import("balances", BALANCES, batch_rows=2)
    assert report.imported == 3
    await worker.run_until_idle()

    accounts = await _accounts()
    got = receiver.received
    assert all(r.signature_ok for r in got)
    assert {r.event_type for r in got} == {"points.changed"}
    assert len({r.event_id for r in got}) == len(got) == 3
    told = [r.body["data"] for r in got]
    # Two batches of two rows: M1's first lot and M2's, then M1's second; in order per account.
    assert [d for d in told if d["account_id"] == accounts["M1"]] == [
        {
            "account_id": accounts["M1"],
            "balance": 1200,
            "pending": 0,
            "debt": 0,
            "balance_change": 1200,
            "pending_change": 0,
            "debt_change": 0,
        },
        {
            "account_id": accounts["M1"],
            "balance": 1500,
            "pending": 0,
            "debt": 0,
            "balance_change": 300,
            "pending_change": 0,
            "debt_change": 0,
        },
    ]
    assert [
        (d["balance"], d["balance_change"]) for d in told if d["account_id"] == accounts["M2"]
    ] == [(50, 50)]
    assert accounts["M3"] not in {d["account_id"] for d in told}  # no balance, no event
    assert await log(shop, receipts_only) == []

    # The same file again imports nothing and tells nothing.
    again = await _import("balances", BALANCES, batch_rows=2)
    assert (again.imported, again.already_imported) == (0, 3)
    await worker.run_until_idle()
    assert len(receiver.received) == 3
    assert len(await log(shop, webhook_id)) == 3
    for account_id in accounts.values():
        assert await ledger_reads.reconcile(account_id, now=clock.now()) == []


async def test_nobody_listening_means_an_import_writes_no_delivery(client, receiver):
    shop = await Shop.open(client)
    await register(shop, receiver, ["member.joined", "receipt.posted"])
    await _import("members", members_file(2))
    await _import("balances", BALANCES)
    assert await db.fetch("SELECT id FROM webhook_delivery") == []
    await worker.run_until_idle()
    assert receiver.received == []
