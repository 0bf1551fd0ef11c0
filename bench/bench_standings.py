"""Recording every account's tier and RFM group at a month end, and the program-health
figures read from the record, on PostgreSQL over a seeded chain, beside the nightly RFM
scoring over the same rows in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_standings.py [--accounts 1000000]
        [--receipts-per-account 5] [--keep] [--reuse wallet_bench_xxxxxx]

Makes a scratch database next to ``WALLET_TEST_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test), migrates it with ``wallet migrate`` and seeds it
set-based with ``generate_series``: N accounts, each with a member and a card (joined over the year
before), receipts spread over the last 180 days (``--receipts-per-account`` each, 5 by
default: 5,000,000 receipts at a million accounts, the issue's 10,000,000 receipt lines at
two lines each; the lines themselves are not read here, so not made), the monthly spend rows
tiers read, and a ladder of three tiers (0, 15,000 ₽ and 50,000 ₽ lifetime). Then VACUUM
ANALYZE and times:

- the month-end job recording the month before last, then last month (each beside the month
  end before it: a million rows each, ``standing.record_month``), and a rerun of last month
  (must write nothing);
- the health report's standings over 12 months (``reports.standings``: the recorded months'
  counts and the current month computed live beside last month's record), and the whole
  health report (cohorts and activity too), best of two each, as the report runs them
  (JIT off);
- the baseline: the nightly RFM scoring (``segments.score_rfm``) over the same receipts.

Target (issue 15): each report under 5 s at 1,000,000 accounts (the cohorts under 10 s).
The scratch database is dropped at the end, unless ``--keep``; ``--reuse NAME`` measures
the reports again in a kept one (migrated first; not seeded nor recorded again).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import best, database, step

DAYS = 180


async def generate(
    conn: asyncpg.Connection, accounts: int, per_account: int, now: datetime
) -> None:
    receipts = accounts * per_account
    first = now - timedelta(days=DAYS)
    await step(
        conn,
        "a store",
        "INSERT INTO store (id, code, name, address, time_zone, created_at) "
        "VALUES (1, 'S-001', 'Магазин', '', 'Europe/Moscow', $1)",
        first,
    )
    await step(
        conn,
        f"{accounts:,} accounts",
        "INSERT INTO account (id, balance, pending, debt, lifetime_spend_kopecks, created_at) "
        "SELECT g, 0, 0, 0, 0, $1::timestamptz - make_interval(days => g % 365) "
        "FROM generate_series(1, $2) g",
        first,
        accounts,
    )
    await step(
        conn,
        "members",
        "INSERT INTO member (id, account, name, email, consent_program_at, consent_data_at, "
        "marketing_email, join_store_id, created_at, language) "
        "SELECT g, g, 'Покупатель ' || g, 'm' || g || '@example.ru', $1, $1, true, 1, "
        "$1::timestamptz - make_interval(days => g % 365), 'ru' FROM generate_series(1, $2) g",
        first,
        accounts,
    )
    await step(
        conn,
        "cards",
        "INSERT INTO card (id, number, account, kind, role, status, holder_name, pass_serial, "
        "created_at) SELECT g, '77' || lpad(g::text, 14, '0'), g, 'virtual', 'main', 'active', "
        "'', 'S' || g, $1 FROM generate_series(1, $2) g",
        first,
        accounts,
    )
    # Receipts of 200-5,000 ₽ at times spread over the 180 days, some accounts buying more.
    await step(
        conn,
        f"{receipts:,} receipts",
        "INSERT INTO receipt (id, store, external_id, store_key, card, account_id, occurred_at, "
        "posted_at, request_hash, total_kopecks, paid_kopecks, redeemed_points, earned_points, "
        "earned_lot_id, refunded_points, rules_id, result) "
        "SELECT g, 1, 'R' || g, 'k:' || g, a, a, t, t, '', v, v, 0, 0, NULL, 0, 0, '{}' "
        "FROM (SELECT g, (g - 1) / $2 + 1 AS a, "
        "$3::timestamptz + make_interval(secs => ((g * 7919) % $4)::float8) AS t, "
        "20000 + (g * 104729) % 480000 AS v FROM generate_series(1, $1::bigint) g) x",
        receipts,
        per_account,
        first,
        DAYS * 86400,
    )
    await step(
        conn,
        "monthly spend and lifetime spend (tiers)",
        "INSERT INTO account_spend_month (spend_key, account_id, month, spent_kopecks) "
        "SELECT account_id || ':' || m, account_id, m, SUM(paid_kopecks) FROM ("
        "SELECT account_id, to_char(occurred_at AT TIME ZONE 'Europe/Moscow', 'YYYY-MM') AS m, "
        "paid_kopecks FROM receipt) x GROUP BY account_id, m",
    )
    await conn.execute(
        "UPDATE account a SET lifetime_spend_kopecks = s.total FROM (SELECT account_id, "
        "SUM(spent_kopecks) AS total FROM account_spend_month GROUP BY account_id) s "
        "WHERE s.account_id = a.id"
    )
    for table in ("store", "account", "member", "card", "receipt", "account_spend_month"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    await step(conn, "VACUUM ANALYZE", "VACUUM ANALYZE")
    await conn.execute("CHECKPOINT")


async def timed(label: str, run: Any) -> Any:
    began = time.perf_counter()
    result = await run
    print(f"{label:<58} {time.perf_counter() - began:7.2f} s", flush=True)
    return result


async def measure(conn: asyncpg.Connection, now: datetime, *, reuse: bool) -> None:
    from wallet.reports import health
    from wallet.reports import standings as report
    from wallet.reports.service import analytical
    from wallet.rules import service as rules_service
    from wallet.rules.schemas import RulesIn, Tier
    from wallet.segments import service as segments
    from wallet.segments import standing

    month = standing.month_key(now)
    last, before = standing.shift_month(month, -1), standing.shift_month(month, -2)
    if not reuse:
        await rules_service.put_rules(
            RulesIn(
                tiers=[
                    Tier(name="Базовый", min_spend_kopecks=0, earn_rate_bp=500),
                    Tier(name="Серебряный", min_spend_kopecks=1_500_000, earn_rate_bp=700),
                    Tier(name="Золотой", min_spend_kopecks=5_000_000, earn_rate_bp=1000),
                ],
                effective_from=now - timedelta(days=2 * DAYS),
            ),
            actor="bench",
            now=now,
        )
        for recorded in (before, last):
            accounts = await timed(
                f"month-end job: record {recorded}", standing.record_month(recorded, now=now)
            )
            print(f"  {accounts:,} accounts recorded", flush=True)
    again = await timed(f"month-end job rerun: {last}", standing.record_month(last, now=now))
    assert again is None
    rows = await conn.fetchval("SELECT COUNT(*) FROM account_standing_month")
    print(f"  account_standing_month rows: {rows:,}", flush=True)
    # The nightly scoring has run before anyone reads the report (its groups are "now").
    await timed("baseline: nightly RFM scoring (score_rfm)", segments.score_rfm(now=now))
    months = [standing.shift_month(month, -k) for k in range(11, -1, -1)]
    # As the report runs them: one read transaction without PostgreSQL's JIT (``analytical``;
    # with it, compiling took 3.4 s of 3.5 s at 200,000 accounts, EXPLAIN ANALYZE).
    part = analytical(report.standings)
    fastest, found = await best(lambda: part(months, now=now))
    print(f"{'health report: standings, 12 months (now live), best of 2':<58} {fastest:7.2f} s")
    whole, _ = await best(lambda: health.health(months[0], months[-1], now=now))
    print(f"{'health report: whole (cohorts, activity, standings)':<58} {whole:7.2f} s")
    current = found[-1]
    assert current.tier_moves is not None
    moves = current.tier_moves
    print(
        f"  now: {', '.join(f'{t.tier} {t.accounts:,}' for t in current.tiers)}; "
        f"since {last}: up {moves.up:,}, down {moves.down:,}, same {moves.same:,}, "
        f"new {moves.joined:,}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--receipts-per-account", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse", metavar="NAME", help="measure in a database kept by --keep, without seeding"
    )
    args = parser.parse_args()

    async with database(reuse=args.reuse, keep=args.keep) as (name, conn):
        if args.reuse:
            # The seed's rules took effect 2 x DAYS before its "now".
            since = await conn.fetchval(
                "SELECT effective_from FROM program_rules WHERE created_by = 'bench'"
            )
            now = since + timedelta(days=2 * DAYS)
            print(f"reusing {name}, seeded as of {now.isoformat()}", flush=True)
        else:
            now = datetime.now(UTC).replace(microsecond=0)
            began = time.perf_counter()
            print(f"seeding {name}:", flush=True)
            await generate(conn, args.accounts, args.receipts_per_account, now)
            print(f"seeded in {time.perf_counter() - began:.0f} s", flush=True)
        await measure(conn, now, reuse=bool(args.reuse))


if __name__ == "__main__":
    asyncio.run(main())
