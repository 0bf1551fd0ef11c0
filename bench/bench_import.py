"""Importing N members and their opening balances from an old program's CSV files on
PostgreSQL, beside a bare COPY of the same rows, in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_import.py [--members 1000000] [--batch-rows 2000]

Makes a scratch database next to ``WALLET_TEST_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test), migrates it with ``wallet migrate``, writes
two files as a Russian export has them (Windows-1251, ``;``, local times): N members with a
phone, an email, consents and a marketing opt-in for half of them, and one opening balance
each with its own expiry. Then times, in the same run:

- the baseline: ``COPY`` of the members' rows into a bare scratch table (no ids to match,
  no checks, no consents): the floor for moving that many rows into PostgreSQL;
- ``wallet.imports.service.run`` for members, then for balances (the service code: the
  whole file checked first, then batches of set-based inserts with their progress);
- a second run of the balances file (idempotency: it must import nothing).

Then checks the total of the balances against the file, reconciles a sample of accounts
through the ledger's own ``reconcile``, and drops the scratch database. Target: members
with balances under 10 minutes for 1,000,000.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE_URL = os.environ.get("WALLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def migrate(url: str) -> None:
    env = {**os.environ, "WALLET_DATABASE_URL": url, "WALLET_CERTS_DIR": "/tmp/bench-certs"}
    done = subprocess.run(
        [sys.executable, "-m", "wallet", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"wallet migrate failed:\n{done.stdout}\n{done.stderr}")


def write_files(folder: Path, members: int) -> tuple[Path, Path, int]:
    """The two export files; the total points of the balances."""
    members_path, balances_path = folder / "members.csv", folder / "balances.csv"
    expires = (datetime.now() + timedelta(days=180)).strftime("%d.%m.%Y %H:%M")
    total = 0
    with members_path.open("w", encoding="cp1251", newline="") as out:
        out.write(
            "old_id;name;phone;email;birthday;joined_at;marketing_email;marketing_email_at\r\n"
        )
        for n in range(1, members + 1):
            out.write(
                f"M{n};Покупатель Номер {n};+7 9{n // 10_000_000 + 10:02d} "
                f"{n // 10_000 % 1000:03d}-{n % 10_000:04d};shopper{n}@example.ru;01.02.1990;"
                f"15.03.2021 10:00;{n % 2};15.03.2021 10:00\r\n"
            )
    with balances_path.open("w", encoding="cp1251", newline="") as out:
        out.write("old_id;member_old_id;points;earned_at;expires_at\r\n")
        for n in range(1, members + 1):
            points = 1 + n % 5000
            total += points
            out.write(f"B{n};M{n};{points};01.06.2025 12:00;{expires}\r\n")
    return members_path, balances_path, total


async def bare_copy(conn: asyncpg.Connection, members: int) -> float:
    await conn.execute(
        "CREATE UNLOGGED TABLE bench_copy (old_id text, name text, phone text, email text, "
        "birthday date, joined_at timestamptz, marketing boolean)"
    )
    joined = datetime(2021, 3, 15, 7, 0).astimezone()
    born = datetime(1990, 2, 1).date()
    records = (
        (
            f"M{n}",
            f"Покупатель Номер {n}",
            f"+79{n:09d}",
            f"shopper{n}@example.ru",
            born,
            joined,
            n % 2 == 1,
        )
        for n in range(1, members + 1)
    )
    began = time.perf_counter()
    await conn.copy_records_to_table("bench_copy", records=records)
    took = time.perf_counter() - began
    await conn.execute("DROP TABLE bench_copy")
    return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=None)
    args = parser.parse_args()

    name = f"wallet_bench_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(BASE_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = BASE_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["WALLET_DATABASE_URL"] = url
    try:
        migrate(url)
        from wallet import clock, db, wiring
        from wallet import settings as settings_module
        from wallet.imports import service
        from wallet.ledger import reads as ledger_reads

        settings = dataclasses.replace(settings_module.load(), database_url=url)
        settings_module.override(settings)
        batch = args.batch_rows or service.BATCH_ROWS
        with tempfile.TemporaryDirectory() as folder:
            began = time.perf_counter()
            members_path, balances_path, total = write_files(Path(folder), args.members)
            print(
                f"wrote {args.members:,} members and balances in {time.perf_counter() - began:.1f} s"
            )
            conn = await asyncpg.connect(url)
            copy_s = await bare_copy(conn, args.members)
            print(
                f"baseline: COPY of {args.members:,} member rows into a bare table: {copy_s:.1f} s"
            )
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(wiring.running(settings))
                times = {}
                for kind, path in (("members", members_path), ("balances", balances_path)):
                    began = time.perf_counter()
                    with path.open("rb") as source:
                        report = await service.run(
                            kind, source, now=clock.now(), actor="bench", batch_rows=batch
                        )
                    times[kind] = time.perf_counter() - began
                    assert report.imported == args.members and not report.problems, report
                    print(
                        f"{kind}: {report.imported:,} rows in {times[kind]:.1f} s "
                        f"({report.imported / times[kind]:,.0f} rows/s)"
                    )
                whole = sum(times.values())
                print(
                    f"members with balances: {whole:.1f} s ({whole / 60:.1f} min; target under "
                    f"10 min for 1,000,000), {whole / copy_s:.0f}x the bare COPY of the members"
                )
                began = time.perf_counter()
                with balances_path.open("rb") as source:
                    again = await service.run(
                        "balances", source, now=clock.now(), actor="bench", batch_rows=batch
                    )
                print(
                    f"second run of balances: {time.perf_counter() - began:.1f} s, imported "
                    f"{again.imported}, already imported {again.already_imported:,}"
                )
                assert again.imported == 0
                found = await db.fetch("SELECT SUM(balance) AS points FROM account")
                assert int(found[0]["points"]) == total, (found, total)
                ids = [int(r["id"]) for r in await db.fetch("SELECT id FROM account")]
                sample = random.sample(ids, min(1000, len(ids)))
                problems = {}
                for account_id in sample:
                    if found_problems := await ledger_reads.reconcile(account_id, now=clock.now()):
                        problems[account_id] = found_problems
                assert not problems, problems
                print(
                    f"balances total {total:,} points as in the file; {len(sample)} accounts reconcile"
                )
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
