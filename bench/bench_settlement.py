"""Month-end cashback settlement of N enrolled accounts on PostgreSQL, beside the bare SQL
aggregate over the same receipts, in the same run.

    .venv/bin/python bench/bench_settlement.py [--accounts 1000000] [--receipts-per-account 10]

Makes a scratch database next to ``WALLET_TEST_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test), migrates it with ``wallet migrate``, generates
the data set-based with ``generate_series`` (accounts, one offer, enrolments, N x 10
receipts, and the per-(enrolment, month) progress rows that receipts keep up to date), then
times:

- the bare aggregate: ``SELECT account_id, SUM(paid) ... GROUP BY account_id`` over the
  receipts, the least any settlement must do if it had to add up receipts;
- ``settlement.settle_month`` itself (the service code: outcomes, grouped balance UPDATE,
  lots, journal entries, pass-update outbox rows, all in one transaction);
- a second run (idempotency: it must credit nothing).

Then checks the credited points against SQL and reconciles a sample of accounts, and drops
the scratch database. Targets: under 60 s for 1,000,000 accounts, within 3x the aggregate.
The receipts are a plain scratch table (account, time, money paid): the settlement never
reads receipts, so their indexes would only slow the data generation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE_URL = os.environ.get("WALLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MONTH = "2026-10"


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


async def generate(conn: asyncpg.Connection, accounts: int, per_account: int) -> None:
    from wallet.offers import service

    start, end = service.month_bounds(MONTH)
    seconds = int((end - start).total_seconds()) - 1
    await conn.execute(
        "INSERT INTO account (id, balance, pending, debt, lifetime_spend_kopecks, created_at) "
        "SELECT g, 0, 0, 0, 0, $1 FROM generate_series(1, $2) g",
        start,
        accounts,
    )
    await conn.execute("SELECT setval(pg_get_serial_sequence('account', 'id'), $1)", accounts)
    await conn.execute(
        "INSERT INTO offer (name, description, rate_bp, cap_points, validity_months, categories, "
        "lookback_months, uplift_percent, rounding_step_kopecks, min_goal_kopecks, "
        "no_history_goal_kopecks, renews_monthly, counts_whole_month, starts_at, ends_at, "
        "eligible_tiers, status, created_by, created_at, updated_at) VALUES ('bench', '', 200, "
        "1000, 6, '[]', 3, 10, 10000, 100000, 500000, true, true, $1, NULL, '[]', 'active', "
        "'bench', $1, $1)",
        start,
    )
    await conn.execute(
        "INSERT INTO offer_enrolment (id, offer, account_id, offer_account, opted_in_at, status) "
        "SELECT g, 1, g, '1:' || g, $1, 'active' FROM generate_series(1, $2) g",
        start,
        accounts,
    )
    await conn.execute(
        "CREATE UNLOGGED TABLE bench_receipt (account_id int, occurred_at timestamptz, "
        "paid_kopecks bigint)"
    )
    # About half the accounts reach a 10,000 ₽ goal; a few hit the 1,000-point cap.
    await conn.execute(
        "INSERT INTO bench_receipt SELECT (g - 1) / $2 + 1, "
        "$3::timestamptz + make_interval(secs => ((g * 7919) % $4)::float8), "
        "CASE WHEN g % 997 = 0 THEN 6000000 ELSE (random() * 200000)::bigint END "
        "FROM generate_series(1, $1::bigint * $2) g",
        accounts,
        per_account,
        start,
        seconds,
    )
    await conn.execute(
        "INSERT INTO offer_goal_month (enrolment_id, offer_id, account_id, month, "
        "enrolment_month, counts_from, month_ends_at, goal_kopecks, spent_kopecks, explanation, "
        "status, outcome, reward_points, lot_id, settled_at, notified, created_at) "
        "SELECT account_id, 1, account_id, $1::varchar, account_id || ':' || $1::text, $2, $3, "
        "1000000, "
        "SUM(paid_kopecks), '{}', 'open', '', 0, NULL, NULL, false, $2 "
        "FROM bench_receipt GROUP BY account_id",
        MONTH,
        start,
        end,
    )
    await conn.execute("VACUUM ANALYZE")


async def bare_aggregate(conn: asyncpg.Connection) -> tuple[float, int]:
    began = time.perf_counter()
    row = await conn.fetchrow(
        "SELECT COUNT(*) AS n, COALESCE(SUM(LEAST(s::bigint * 200 / 1000000, 1000)), 0) AS points "
        "FROM (SELECT account_id, SUM(paid_kopecks) AS s FROM bench_receipt "
        "GROUP BY account_id) t WHERE s >= 1000000"
    )
    return time.perf_counter() - began, int(row["points"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--receipts-per-account", type=int, default=10)
    parser.add_argument("--trace", action="store_true", help="time each settlement statement")
    args = parser.parse_args()

    name = f"wallet_bench_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(BASE_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = BASE_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["WALLET_DATABASE_URL"] = url
    try:
        migrate(url)
        from wallet import db
        from wallet import settings as settings_module

        settings_module.override(settings_module.Settings(database_url=url))
        db.bind(db.make_engine(url))
        await db.start()
        conn = await asyncpg.connect(url)
        began = time.perf_counter()
        await generate(conn, args.accounts, args.receipts_per_account)
        print(
            f"generated {args.accounts:,} accounts, "
            f"{args.accounts * args.receipts_per_account:,} receipts in "
            f"{time.perf_counter() - began:.1f} s"
        )
        aggregate_s, expected_points = await bare_aggregate(conn)
        aggregate_s = min(aggregate_s, (await bare_aggregate(conn))[0])

        from wallet.ledger import service as ledger
        from wallet.offers import service, settlement

        _start, end = service.month_bounds(MONTH)
        now = end + timedelta(days=3)
        if args.trace:
            plain = db.raw

            async def traced(sql: str, *values: object) -> list[dict[str, object]]:
                began = time.perf_counter()
                result = await plain(sql, *values)
                print(f"  {time.perf_counter() - began:7.2f} s  {sql[:90]}")
                return result

            db.raw = traced  # type: ignore[assignment]
        began = time.perf_counter()
        report = await settlement.settle_month(MONTH, now=now)
        settle_s = time.perf_counter() - began
        began = time.perf_counter()
        rerun = await settlement.settle_month(MONTH, now=now + timedelta(hours=1))
        rerun_s = time.perf_counter() - began

        credited = await conn.fetchval("SELECT COALESCE(SUM(amount), 0) FROM lot")
        balances = await conn.fetchval("SELECT COALESCE(SUM(balance), 0) FROM account")
        outbox = await conn.fetchval("SELECT COUNT(*) FROM outbox_job WHERE kind = 'pass_update'")
        assert report.points == expected_points == credited == balances, (
            report,
            expected_points,
            credited,
            balances,
        )
        assert rerun.settled == 0 and outbox == args.accounts
        sample = random.sample(range(1, args.accounts + 1), min(200, args.accounts))
        for account_id in sample:
            problems = await ledger.reconcile(account_id, now=now)
            assert not problems, (account_id, problems)
        await conn.close()
        await db.stop()

        print(
            f"settled {report.settled:,} goals: {report.reached:,} reached, "
            f"{report.missed:,} missed, {report.points:,} points credited"
        )
        print(f"bare SQL aggregate over the receipts: {aggregate_s:8.2f} s")
        print(f"settlement (service code):            {settle_s:8.2f} s")
        print(f"ratio settlement / aggregate:         {settle_s / aggregate_s:8.2f}x")
        print(f"second run (credits nothing):         {rerun_s:8.2f} s")
        print(f"checked: lots = balances = expected points; {len(sample)} accounts reconcile")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
