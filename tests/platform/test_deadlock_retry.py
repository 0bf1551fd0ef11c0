"""Two writes that lock the same rows in opposite order: PostgreSQL aborts one of them
(a deadlock), and ``db.retry_on_deadlock`` runs it again, so both complete. SQLite has one
writer at a time, so there the second simply waits for the first."""

from __future__ import annotations

import asyncio

from wallet import clock, db
from wallet.ledger import service as ledger


async def test_crossing_writes_both_complete(database):
    first = await ledger.open_account(now=clock.now())
    second = await ledger.open_account(now=clock.now())
    both_hold_one = asyncio.Barrier(2)
    runs: list[str] = []

    @db.retry_on_deadlock
    async def cross(name: str, one: int, other: int) -> None:
        runs.append(name)
        async with db.write_transaction():
            await db.fetch("UPDATE account SET debt = debt + 0 WHERE id = $1", one)
            if runs.count(name) == 1 and not db.is_sqlite():
                await both_hold_one.wait()
            await db.fetch("UPDATE account SET debt = debt + 0 WHERE id = $1", other)

    await asyncio.wait_for(
        asyncio.gather(cross("a", first, second), cross("b", second, first)), timeout=20
    )
    if db.is_sqlite():
        assert runs == ["a", "b"]
    else:
        # One of them was the deadlock's victim and ran a second time.
        assert sorted(runs) in (["a", "a", "b"], ["a", "b", "b"])
