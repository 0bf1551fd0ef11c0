"""Month-end cashback settlement of N enrolled accounts on PostgreSQL, beside the bare SQL
aggregate over the same receipts, in the same run.

    .venv/bin/python bench/bench_settlement.py [--accounts 1000000] [--receipts-per-account 10]
        [--connections N] [--trace] [--webhook]

Makes a scratch database next to ``WALLET_TEST_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test), migrates it with ``wallet migrate``, generates
the data set-based with ``generate_series`` (accounts, one offer, enrolments, N x 10
receipts, the per-(enrolment, month) progress rows that receipts keep up to date, and a
pass for 40% of the accounts), runs VACUUM ANALYZE and a CHECKPOINT once (the state a
month-old database is in), then times, in the same run:

- baseline A, the bare aggregate that produces what settlement produces from the raw data:
  each enrolled account's SUM of the month's receipts, compared with its own goal, the
  capped reward summed (``bench_receipt`` GROUP BY account JOIN the goals); the targets
  are measured against this one;
- baseline B, the same without the goals (one constant goal): the figure earlier runs
  printed;
- baseline C, the same aggregate over the progress rows the settlement actually reads (the
  floor for any settlement of pre-aggregated rows: a read-only scan, no writes);
- ``settlement.settle_month`` itself (the service code: outcomes, lots, journal entries,
  balances, the two follow-up jobs; account ranges side by side on
  ``WALLET_CASHBACK_SETTLE_CONNECTIONS`` connections, or ``--connections``), with the WAL
  written meanwhile and how many updates were HOT;
- the pass-update jobs the worker runs after it (one per range: the passes of the
  accounts with one rebuilt, 500 accounts a transaction, as the job's slices do);
- a second run (idempotency: it must credit nothing).

With ``--webhook`` an active webhook endpoint asks for ``points.changed`` (nothing is sent:
no worker runs), so the settlement also writes a delivery and a stream job per credited
account; without it no endpoint exists, the usual case.

Then checks the credited points against SQL and reconciles a sample of accounts, and drops
the scratch database. Targets: under 60 s for 1,000,000 accounts, within 3x baseline A.
The receipts are a plain scratch table (account, time, money paid): the settlement never
reads receipts, so their indexes would only slow the data generation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import re
import secrets
import subprocess
import sys
import time
from datetime import datetime, timedelta
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
    # 40% of the accounts have a pass in a wallet (card ids = account ids here).
    await conn.execute(
        "INSERT INTO pass_card (card_id, account_id, serial, tag, modified_at, fingerprint, "
        "message_id, message_header, message_text, created_at) "
        "SELECT g, g, 'S' || g, 0, $2, '', '', '', '', $2 FROM generate_series(1, $1) g "
        "WHERE g % 5 < 2",
        accounts,
        start,
    )
    # Their cards, so that rebuilding a pass after the settlement is the real work.
    await conn.execute(
        "INSERT INTO card (id, number, account, kind, role, status, holder_name, pass_serial, "
        "created_at) SELECT g, '77' || lpad(g::text, 14, '0'), g, 'virtual', 'main', 'active', "
        "'', 'S' || g, $2 FROM generate_series(1, $1) g WHERE g % 5 < 2",
        accounts,
        start,
    )
    await conn.execute("VACUUM ANALYZE")
    # A month-old database has long written out what loading it dirtied. Without this the
    # checkpoint the load's WAL asked for runs during the settlement (measured at 1,000,000
    # accounts: 21.3 s without, 16.3-18.7 s with, baseline A unchanged at 6.3-6.9 s); the
    # settlement still pays for the checkpoints its own WAL (about 1.2 GB) brings on.
    await conn.execute("CHECKPOINT")


BASELINES = {
    "A": "SELECT COUNT(*) AS n, COALESCE(SUM(LEAST(t.s::bigint * 200 / 1000000, 1000)), 0) AS points "
    "FROM (SELECT account_id, SUM(paid_kopecks) AS s FROM bench_receipt GROUP BY account_id) t "
    f"JOIN offer_goal_month g ON g.account_id = t.account_id AND g.offer_id = 1 "
    f"AND g.month = '{MONTH}' WHERE t.s >= g.goal_kopecks AND t.s > 0",
    "B": "SELECT COUNT(*) AS n, COALESCE(SUM(LEAST(s::bigint * 200 / 1000000, 1000)), 0) AS points "
    "FROM (SELECT account_id, SUM(paid_kopecks) AS s FROM bench_receipt "
    "GROUP BY account_id) t WHERE s >= 1000000",
    "C": "SELECT COUNT(*) AS n, "
    "COALESCE(SUM(LEAST(spent_kopecks * 200 / 1000000, 1000)), 0) AS points "
    f"FROM offer_goal_month WHERE offer_id = 1 AND month = '{MONTH}' AND status = 'open' "
    "AND spent_kopecks >= goal_kopecks AND spent_kopecks > 0",
}


async def bare_aggregate(conn: asyncpg.Connection, which: str) -> tuple[float, int]:
    """The best of two runs of one baseline, and the points it computes."""
    best, points = float("inf"), 0
    for _ in range(2):
        began = time.perf_counter()
        row = await conn.fetchrow(BASELINES[which])
        best = min(best, time.perf_counter() - began)
        points = int(row["points"])
    return best, points


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--receipts-per-account", type=int, default=10)
    parser.add_argument("--trace", action="store_true", help="time each settlement statement")
    parser.add_argument(
        "--connections",
        type=int,
        default=None,
        help="connections settling side by side (default: WALLET_CASHBACK_SETTLE_CONNECTIONS)",
    )
    parser.add_argument(
        "--webhook",
        action="store_true",
        help="an endpoint listens to points.changed (a delivery per credited account)",
    )
    args = parser.parse_args()

    name = f"wallet_bench_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(BASE_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = BASE_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["WALLET_DATABASE_URL"] = url
    try:
        migrate(url)
        from wallet import db, wiring
        from wallet import settings as settings_module
        from wallet.runtime import close_engine

        settings = dataclasses.replace(settings_module.load(), database_url=url)
        if args.connections is not None:
            settings = dataclasses.replace(settings, cashback_settle_connections=args.connections)
        settings_module.override(settings)
        # The app's runtime (events connected: passes show the offers' goals, as in the app).
        runtime = contextlib.AsyncExitStack()
        running = await runtime.enter_async_context(wiring.running(settings))
        conn = await asyncpg.connect(url)
        began = time.perf_counter()
        await generate(conn, args.accounts, args.receipts_per_account)
        print(
            f"generated {args.accounts:,} accounts, "
            f"{args.accounts * args.receipts_per_account:,} receipts in "
            f"{time.perf_counter() - began:.1f} s"
        )
        baselines = {which: await bare_aggregate(conn, which) for which in BASELINES}
        expected_points = baselines["A"][1]
        assert {points for _s, points in baselines.values()} == {expected_points}, baselines
        aggregate_s = baselines["A"][0]
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + BASELINES["A"])
        workers = sorted(set(re.findall(r'"Workers Planned": (\d+)', plan)))

        from wallet.ledger import reads as ledger_reads
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
        if args.webhook:
            await conn.execute(
                "INSERT INTO webhook_endpoint (url, events, secret, status, disabled_reason, "
                "failures, created_by, created_at) VALUES ('https://crm.example.ru/hooks', "
                "'[\"points.changed\"]', '', 'active', '', 0, 'bench', now())"
            )
        wal_before = await conn.fetchval("SELECT pg_current_wal_lsn()")
        began = time.perf_counter()
        report = await settlement.settle_month(MONTH, now=now)
        settle_s = time.perf_counter() - began
        wal_bytes = await conn.fetchval(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)", wal_before
        )
        # A backend reports its table counters when it exits (idle ones wait up to 10 s).
        await close_engine(running.engine)
        await asyncio.sleep(0.5)
        await running.start()
        hot = await conn.fetch(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname IN ('offer_goal_month', 'account') ORDER BY relname"
        )
        queued = await conn.fetchval("SELECT COUNT(*) FROM outbox_job WHERE kind = 'pass_update'")
        # The pass-update jobs the settlement queued (one per account range), run one after
        # another as a single worker would.
        from wallet.offers import jobs as offer_jobs

        follow_ups = await conn.fetch(
            "SELECT payload FROM outbox_job WHERE kind = 'offers.pass_updates' ORDER BY id"
        )
        began = time.perf_counter()
        for job in follow_ups:
            payload = job["payload"]
            payload = json.loads(payload) if isinstance(payload, str) else payload
            # What the job's slices do one after another, without the 20 s slicing.
            await settlement.refresh_passes(
                int(payload["offer_id"]),
                payload["month"],
                settled_at=datetime.fromisoformat(payload["settled_at"]),
                accounts=offer_jobs._accounts(payload),
            )
        fanout_s = time.perf_counter() - began
        began = time.perf_counter()
        rerun = await settlement.settle_month(MONTH, now=now + timedelta(hours=1))
        rerun_s = time.perf_counter() - began

        credited = await conn.fetchval("SELECT COALESCE(SUM(amount), 0) FROM lot")
        balances = await conn.fetchval("SELECT COALESCE(SUM(balance), 0) FROM account")
        outbox = await conn.fetchval("SELECT COUNT(*) FROM outbox_job WHERE kind = 'pass_update'")
        rebuilt = await conn.fetchval("SELECT COUNT(*) FROM pass_card WHERE tag > 0")
        assert report.points == expected_points == credited == balances, (
            report,
            expected_points,
            credited,
            balances,
        )
        holders = await conn.fetchval("SELECT COUNT(DISTINCT account_id) FROM pass_card")
        assert rerun.settled == 0 and queued == outbox == 0 and rebuilt == holders, (
            queued,
            outbox,
            rebuilt,
            holders,
        )
        told = await conn.fetchval(
            "SELECT COUNT(DISTINCT account_id) FROM webhook_delivery "
            "WHERE event_type = 'points.changed'"
        )
        streams = await conn.fetchval(
            "SELECT COUNT(*) FROM outbox_job WHERE kind = 'webhooks.deliver'"
        )
        lots = await conn.fetchval("SELECT COUNT(*) FROM lot")
        assert told == streams == (lots if args.webhook else 0), (told, streams, lots)
        sample = random.sample(range(1, args.accounts + 1), min(200, args.accounts))
        for account_id in sample:
            problems = await ledger_reads.reconcile(account_id, now=now)
            assert not problems, (account_id, problems)
        await conn.close()
        await runtime.aclose()

        print(
            f"settled {report.settled:,} goals: {report.reached:,} reached, "
            f"{report.missed:,} missed, {report.points:,} points credited"
        )
        labels = {
            "A": "A: receipts summed per account vs its goal",
            "B": "B: receipts summed, one constant goal    ",
            "C": "C: progress rows (what settlement reads) ",
        }
        for which, label in labels.items():
            took = baselines[which][0]
            print(f"baseline {label} {took:8.2f} s  (settlement {settle_s / took:6.2f}x)")
        print(
            f"baseline A parallel workers planned: {', '.join(workers) or 'none'}; settlement "
            f"connections: {settings.cashback_settle_connections}"
        )
        print(f"settlement (service code):                          {settle_s:8.2f} s")
        print(
            "  points.changed deliveries written: "
            + (f"{told:,} (an endpoint listens)" if args.webhook else "none (no endpoint)")
        )
        print(
            f"  WAL written meanwhile (whole server): {int(wal_bytes) / 1e6:,.0f} MB; HOT updates: "
            + ", ".join(
                f"{row['relname']} {row['n_tup_hot_upd']:,} of {row['n_tup_upd']:,}" for row in hot
            )
        )
        print(f"ratio settlement / baseline A (target <= 3x):       {settle_s / aggregate_s:8.2f}x")
        print(
            f"pass-update jobs after it ({len(follow_ups)}, {rebuilt:,} passes rebuilt): "
            f"{fanout_s:8.2f} s"
        )
        print(f"second run (credits nothing):                       {rerun_s:8.2f} s")
        print(f"checked: lots = balances = expected points; {len(sample)} accounts reconcile")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
