"""The service behind PgBouncer in transaction mode (Debian's 1.18): tills post receipts
and the worker runs their jobs through it. asyncpg's prepared statements do not survive
transaction pooling before PgBouncer 1.21 ("prepared statement __asyncpg_stmt_1__ does not
exist"), so the setting ``WALLET_DB_STATEMENT_CACHE_SIZE=0`` is what makes it work."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from tests.conftest import Database, _assert_ledger_agrees
from tests.faults.conftest import free_port
from tests.support.shop import Shop, bearer, iso, line
from wallet import clock, db, wiring
from wallet import settings as settings_module
from wallet.platform import worker

PGBOUNCER = "/usr/sbin/pgbouncer"


@pytest.fixture
def bouncer(database: Database, tmp_path: Path) -> Iterator[str]:
    """PgBouncer in transaction mode in front of the test's PostgreSQL; its URL."""
    if not Path(PGBOUNCER).exists():
        pytest.fail("PgBouncer is not installed: apt-get install pgbouncer", False)
    target = urlsplit(database.url)
    folder = tmp_path / "pgbouncer"
    folder.mkdir()
    port = free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={target.hostname} port={target.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 4\n"
        "ignore_startup_parameters = extra_float_digits\nunix_socket_dir =\n"
    )
    shutil.chown(folder, "nobody")
    for path in folder.iterdir():
        path.chmod(0o644)
    folder.chmod(0o755)
    tmp_path.chmod(0o755)
    # PgBouncer refuses to run as root.
    process = subprocess.Popen(
        [PGBOUNCER, "-u", "nobody", str(folder / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "no PgBouncer"
                time.sleep(0.1)
        netloc = target.netloc.rsplit("@", 1)
        user = netloc[0] + "@" if len(netloc) == 2 else ""
        yield urlunsplit(target._replace(netloc=f"{user}127.0.0.1:{port}"))
    finally:
        process.terminate()
        process.wait(10)


async def _prepared_twice_while_another_client_holds_its_server(url: str, *, cache: int) -> str:
    statements = await asyncpg.connect(url, statement_cache_size=cache)
    other = await asyncpg.connect(url, statement_cache_size=0)
    try:
        assert await statements.fetchval("SELECT $1::int", 1) == 1
        holding = other.transaction()
        await holding.start()
        await other.execute("SELECT 1")  # the server connection used last is now its
        try:
            assert await statements.fetchval("SELECT $1::int", 2) == 2
        except asyncpg.InvalidSQLStatementNameError as error:
            return type(error).__name__
        finally:
            await holding.rollback()
        return "ok"
    finally:
        await statements.close()
        await other.close()


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_tills_and_the_worker_through_pgbouncer_in_transaction_mode(bouncer):
    # What fails without the setting: a statement asyncpg prepared on one server
    # connection is gone when the next transaction gets another. PgBouncer hands out the
    # server connection used last (LIFO), so another client's open transaction takes the
    # one the statement was prepared on and the next call lands on a fresh one.
    assert await _prepared_twice_while_another_client_holds_its_server(bouncer, cache=100) == (
        "InvalidSQLStatementNameError"
    )
    assert await _prepared_twice_while_another_client_holds_its_server(bouncer, cache=0) == "ok"

    settings = dataclasses.replace(
        settings_module.get(), database_url=bouncer, db_pool_size=4, db_statement_cache_size=0
    )
    settings_module.override(settings)
    engine = await asyncio.to_thread(db.make_engine, bouncer)
    async with wiring.running(settings, engine=engine, owns_engine=True):
        from wallet.app import create_app

        transport = httpx.ASGITransport(app=create_app(manage_db=False))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver.local"
        ) as client:
            shop = await Shop.open(client)
            cards = [
                (await shop.enrol(f"Баунсер {n}", email=f"b{n}@example.ru")).card for n in range(4)
            ]

            async def till(n: int) -> None:
                for k in range(5):
                    reply = await client.post(
                        "/api/v1/pos/receipts",
                        json={
                            "receipt_id": f"B{n}-{k}",
                            "card_number": cards[n % len(cards)],
                            "occurred_at": iso(clock.now()),
                            "lines": [line(10_000)],
                        },
                        headers=bearer(shop.pos_key),
                    )
                    assert reply.status_code == 201, reply.text

            await asyncio.gather(*(till(n) for n in range(8)))
            await worker.run_until_idle()
            rows = await db.fetch("SELECT external_id FROM receipt")
            assert sorted(r["external_id"] for r in rows) == sorted(
                f"B{n}-{k}" for n in range(8) for k in range(5)
            )
            jobs = await db.fetch("SELECT status FROM outbox_job WHERE status <> 'done'")
            assert all(job["status"] == "pending" for job in jobs), jobs
            await _assert_ledger_agrees()
