"""The reports on PostgreSQL over a seeded chain, each beside a bare SQL aggregate over the
same rows, in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_reports.py [--accounts 1000000]
        [--lines-per-account 10] [--keep] [--reuse wallet_bench_xxxxxx]

Makes a scratch database next to ``WALLET_TEST_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test), migrates it with ``wallet migrate``, and seeds
it set-based with ``generate_series`` (no row goes through Python): 20 stores, N accounts
with a member and a card each, receipts of two lines over the last 180 days (N x lines / 2
receipts, N x lines receipt lines), an earning lot and journal entry per receipt, a
redemption on every fifth, the monthly spend rows tiers read, and one campaign sent 20 days
ago to everyone with 10% held out by the same hash the service uses (``holdout.bucket_sql``).
Then VACUUM ANALYZE and a CHECKPOINT, and times, best of two runs each:

- the points liability now and 90 days ago (``service.liability``) beside the sum of the
  journal entries of the lots alive then (the liability's own core scan); before it, the
  liability 90 days ago from the whole journal (one run), and the recording of the month
  end before that moment (from the whole journal) and of the next (built on it, as the
  worker's month-end job does), so 90 days ago reads the month end and the journal after;
- the point movements of the last 30 days (``service.movements``) beside the journal's
  entries of the period summed by kind, with the ``journal_entry.created_at`` index and,
  dropped for the measurement, without it (what the reports did before it);
- the first page of movements by receipt (``service.receipt_movements``);
- the campaign outcome over 14 days (``campaign_outcome.outcome``) beside the receipts of
  the campaign's shoppers in the window summed.

Targets (issue 15): each report under 5 s at 1,000,000 accounts and 10,000,000 receipt
lines. The scratch database is dropped at the end, unless ``--keep``; ``--reuse NAME`` measures
again in a kept one (migrated first, not seeded again: 1,000,000 accounts take 15-25 minutes
to seed on two cores), with "now" the moment it was seeded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import best, database, step

STORES = 20
DAYS = 180
HOLDOUT_BP = 1000


async def generate(conn: asyncpg.Connection, accounts: int, lines: int, now: datetime) -> None:
    from wallet.campaigns import holdout

    receipts = accounts * lines // 2
    per_account = max(receipts // accounts, 1)
    first = now - timedelta(days=DAYS)
    seconds = DAYS * 86400
    await step(
        conn,
        "stores",
        "INSERT INTO store (id, code, name, address, time_zone, created_at) "
        "SELECT g, 'S-' || lpad(g::text, 3, '0'), 'Магазин ' || g, '', 'Europe/Moscow', $1 "
        "FROM generate_series(1, $2) g",
        first,
        STORES,
    )
    # Joined over the year before the first receipt.
    await step(
        conn,
        f"{accounts:,} accounts",
        "INSERT INTO account (id, balance, pending, debt, lifetime_spend_kopecks, created_at, "
        "join_store_id) "
        "SELECT g, 0, 0, 0, 0, $1::timestamptz - make_interval(days => g % 365), g % $3 + 1 "
        "FROM generate_series(1, $2) g",
        first,
        accounts,
        STORES,
    )
    await step(
        conn,
        "members (80% say yes to email)",
        "INSERT INTO member (id, account, name, email, consent_program_at, consent_data_at, "
        "marketing_email, join_store_id, created_at, language) "
        "SELECT g, g, 'Покупатель ' || g, 'm' || g || '@example.ru', $1, $1, g % 5 <> 0, "
        "g % $3 + 1, $1, 'ru' FROM generate_series(1, $2) g",
        first,
        accounts,
        STORES,
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
    await step(
        conn,
        f"{receipts:,} receipts",
        "INSERT INTO receipt (id, store, external_id, store_key, card, account_id, occurred_at, "
        "posted_at, request_hash, total_kopecks, paid_kopecks, redeemed_points, earned_points, "
        "earned_lot_id, refunded_points, rules_id, result) "
        "SELECT g, g % $5 + 1, 'R' || g, 'k:' || g, a, a, t, t, '', v, v, 0, v / 2000, g, 0, 0, "
        "'{}' FROM (SELECT g, (g - 1) / $2 + 1 AS a, "
        "$3::timestamptz + make_interval(secs => ((g * 7919) % $4)::float8) AS t, "
        "20000 + (g * 104729) % 480000 AS v FROM generate_series(1, $1::bigint) g) x",
        receipts,
        per_account,
        first,
        seconds,
        STORES,
    )
    await step(
        conn,
        f"{receipts * 2:,} receipt lines",
        "INSERT INTO receipt_line (receipt, line_no, sku, category, quantity, amount_kopecks, "
        "redeemed_kopecks, earned_points, returned_kopecks, returned_redeemed_kopecks, "
        "returned_earned_points, discount_kopecks, manual_discount_kopecks) "
        "SELECT r.id, n, 'SKU-' || (r.id * n % 5000), 'grocery', 1, "
        "CASE WHEN n = 1 THEN r.total_kopecks / 2 ELSE r.total_kopecks - r.total_kopecks / 2 END, "
        "0, CASE WHEN n = 1 THEN r.earned_points ELSE 0 END, 0, 0, 0, 0, 0 "
        "FROM receipt r CROSS JOIN generate_series(1, 2) n",
    )
    await step(
        conn,
        "a lot per receipt",
        "INSERT INTO lot (id, account, amount, remaining, earned_at, available_from, expires_at, "
        "is_pending, source, receipt_id) SELECT id, account_id, earned_points, "
        # What the redemption below leaves: a lot's entries sum to its remaining.
        "CASE WHEN id % 5 = 0 THEN earned_points - earned_points / 2 ELSE earned_points END, "
        "occurred_at, occurred_at, occurred_at + interval '180 days', false, 'receipt', id "
        "FROM receipt",
    )
    # Half of every fifth lot is spent three days after it was earned (at the latest now).
    await step(
        conn,
        "journal: earned, and redeemed on every fifth",
        "INSERT INTO journal_entry (account, lot, kind, points, receipt_id, actor, reason, "
        "created_at) SELECT account_id, id, 'earn', earned_points, id, '', '', occurred_at "
        "FROM receipt UNION ALL SELECT account_id, id, 'redeem', -(earned_points / 2), id, '', "
        "'', LEAST(occurred_at + interval '3 days', $1) FROM receipt WHERE id % 5 = 0",
        now,
    )
    await step(
        conn,
        "accounts: balances and the next lot event, as the ledger keeps them",
        "UPDATE account a SET balance = x.points, next_lot_event_at = x.next_at FROM ("
        "SELECT account, SUM(remaining) AS points, MIN(expires_at) AS next_at FROM lot "
        "WHERE remaining > 0 GROUP BY account) x WHERE x.account = a.id",
    )
    await step(
        conn,
        "monthly spend (tiers)",
        "INSERT INTO account_spend_month (spend_key, account_id, month, spent_kopecks) "
        "SELECT account_id || ':' || m, account_id, m, SUM(paid_kopecks) FROM ("
        "SELECT account_id, to_char(occurred_at AT TIME ZONE 'Europe/Moscow', 'YYYY-MM') AS m, "
        "paid_kopecks FROM receipt) x GROUP BY account_id, m",
    )
    started = now - timedelta(days=20)
    await step(
        conn,
        "a campaign sent 20 days ago",
        "INSERT INTO campaign (id, name, kind, channels, status, started_at, finished_at, "
        "created_by, created_at, updated_at, holdout_bp) VALUES (1, 'Осень', 'manual', "
        "'[\"email\"]', 'sent', $1, $1, 'bench', $1, $1, $2)",
        started,
        HOLDOUT_BP,
    )
    held = holdout.bucket_sql("1", "m.account")
    await step(
        conn,
        f"its deliveries ({HOLDOUT_BP / 100:g}% held out by the hash)",
        "INSERT INTO delivery (key, campaign_id, account_id, channel, status, reason, attempts, "
        "sent_at, created_at) SELECT '1:' || m.account || ':email', 1, m.account, 'email', "
        f"CASE WHEN {held} < $2 THEN 'held_out' "
        "WHEN m.marketing_email THEN 'sent' ELSE 'skipped' END, "
        "CASE WHEN m.marketing_email THEN '' ELSE 'no_consent' END, 1, $1, $1 FROM member m",
        started,
        HOLDOUT_BP,
    )
    for table in (
        "store",
        "account",
        "member",
        "card",
        "receipt",
        "receipt_line",
        "lot",
        "journal_entry",
        "account_spend_month",
        "campaign",
        "delivery",
    ):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    await step(conn, "VACUUM ANALYZE", "VACUUM ANALYZE")
    await conn.execute("CHECKPOINT")


def line(label: str, report_s: float, bare_s: float) -> None:
    print(
        f"{label:<42} report {report_s:7.2f} s   bare SQL {bare_s:7.2f} s   "
        f"ratio {report_s / bare_s:5.1f}x",
        flush=True,
    )


async def month_ends(conn: asyncpg.Connection, now: datetime) -> datetime:
    """The liability 90 days ago from the whole journal (no month end recorded yet: what
    the report did before month ends, one run), then the month end before it recorded from
    the whole journal and the next one built on it (what the worker's month-end job does
    each month), each with its time. Returns the last second before that next month end:
    a moment a whole month of journal after the month end it reads."""
    from wallet.ledger import month_end
    from wallet.reports import service

    as_of = now - timedelta(days=90)
    month = month_end.shift_month(month_end.month_key(as_of), -1)
    whole = None
    recorded = await conn.fetchval("SELECT COUNT(*) FROM liability_month")
    if not recorded:
        began = time.perf_counter()
        whole = await service.liability(as_of, now=now)
        print(
            f"{'liability 90 days ago, whole journal':<42} report "
            f"{time.perf_counter() - began:7.2f} s (one run)",
            flush=True,
        )
    for label, key in (
        ("from the whole journal", month),
        ("built on the one before", month_end.shift_month(month, 1)),
    ):
        began = time.perf_counter()
        rows = await month_end.record_month(key, now=now)
        took = time.perf_counter() - began
        done = "already recorded" if rows is None else f"{rows:,} rows"
        print(f"  month end {key} {label:<24} {took:7.1f} s  {done}", flush=True)
    if whole is not None:
        # The same figures from the month end and the journal after it.
        assert await service.liability(as_of, now=now) == whole
    return month_end.month_end(month_end.shift_month(month, 1)) - timedelta(seconds=1)


async def measure(conn: asyncpg.Connection, now: datetime) -> None:
    from wallet.reports import campaign_outcome, service

    month_last_second = await month_ends(conn, now)
    for label, as_of in (
        ("liability now", now),
        ("liability 90 days ago", now - timedelta(days=90)),
        ("liability a month after its month end", month_last_second),
    ):
        report_s, report = await best(lambda as_of=as_of: service.liability(as_of, now=now))
        bare_s, bare = await best(
            lambda as_of=as_of: conn.fetchrow(
                "SELECT COUNT(DISTINCT j.account) AS n, SUM(j.points) AS points "
                "FROM journal_entry j JOIN lot l ON l.id = j.lot "
                "WHERE j.created_at <= $1 AND l.expires_at > $1",
                as_of,
            )
        )
        assert report.total.balance_points + report.total.pending_points == bare["points"]
        line(label, report_s, bare_s)

    bare_sql = (
        "SELECT kind, SUM(points) AS points FROM journal_entry "
        "WHERE created_at >= $1 AND created_at < $2 GROUP BY kind"
    )
    for indexed in (True, False):
        if not indexed:
            await conn.execute("DROP INDEX journal_entry_created_at")
            await conn.execute("ANALYZE journal_entry")
        for days in (30, 1):
            start, end = now - timedelta(days=days), now
            report_s, moves = await best(
                lambda start=start, end=end: service.movements(start, end, store=None)
            )
            bare_s, rows = await best(lambda start=start, end=end: conn.fetch(bare_sql, start, end))
            moved = moves.total.earned + moves.total.redeemed
            assert moved == sum(int(r["points"]) for r in rows)
            index = "with" if indexed else "without"
            line(f"movements, {days} day(s) ({index} the index)", report_s, bare_s)
    start, end = now - timedelta(days=30), now
    await conn.execute("CREATE INDEX journal_entry_created_at ON journal_entry (created_at)")
    await conn.execute("ANALYZE journal_entry")

    report_s, page = await best(
        lambda: service.receipt_movements(start, end, store=None, after=0, limit=100)
    )
    bare_s, _ = await best(
        lambda: conn.fetch(
            "SELECT receipt_id, SUM(points) FROM journal_entry WHERE created_at >= $1 "
            "AND created_at < $2 AND receipt_id > 0 GROUP BY receipt_id ORDER BY receipt_id "
            "LIMIT 100",
            start,
            end,
        )
    )
    assert len(page.items) == 100
    line("movements by receipt, first page of 100", report_s, bare_s)

    report_s, outcome = await best(lambda: campaign_outcome.outcome(1, window_days=14, now=now))
    window_start = outcome.window_start
    bare_s, bare = await best(
        lambda: conn.fetchrow(
            "SELECT COUNT(*) AS receipts, SUM(r.total_kopecks) AS revenue FROM delivery d "
            "JOIN receipt r ON r.account_id = d.account_id AND r.occurred_at >= $1 "
            "AND r.occurred_at < $2 WHERE d.campaign_id = 1",
            window_start,
            outcome.window_end,
        )
    )
    line("campaign outcome, 14 days", report_s, bare_s)
    print(
        f"  recipients {outcome.recipients.shoppers:,} (buyers {outcome.recipients.buyers:,}), "
        f"held out {outcome.held_out.shoppers:,} (buyers {outcome.held_out.buyers:,}); "
        f"verdict {outcome.verdict}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--lines-per-account", type=int, default=10)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (to EXPLAIN in it)"
    )
    parser.add_argument(
        "--reuse", metavar="NAME", help="measure in a database kept by --keep, without seeding"
    )
    args = parser.parse_args()

    async with database(reuse=args.reuse, keep=args.keep) as (name, conn):
        if args.reuse:
            # The seed's campaign went out 20 days before its "now".
            sent = await conn.fetchval("SELECT started_at FROM campaign WHERE id = 1")
            now = sent + timedelta(days=20)
            print(f"reusing {name}, seeded as of {now.isoformat()}", flush=True)
        else:
            now = datetime.now(UTC).replace(microsecond=0)
            began = time.perf_counter()
            print(f"seeding {name}:", flush=True)
            await generate(conn, args.accounts, args.lines_per_account, now)
            print(f"seeded in {time.perf_counter() - began:.0f} s", flush=True)
        await measure(conn, now)


if __name__ == "__main__":
    asyncio.run(main())
