"""An email campaign into a local SMTP server, beside that server's own receive rate.

What it does, in one process on one scratch database (SQLite file by default, or a scratch
PostgreSQL database next to WALLET_BENCH_POSTGRES_URL's with --postgres):
1. migrates it with `wallet migrate` and adds N shoppers who consented to email (set-based
   INSERTs: the bench measures sending, not enrolment);
2. starts aiosmtpd on loopback that only counts messages, and measures its own receive
   rate alone: the same pooled aiosmtplib connections sending the same kind of message
   with no database (the ceiling);
3. creates a campaign for everyone (rate limit lifted), sends it now and runs the outbox
   worker until every delivery is marked: messages/s over the whole campaign, including
   making the delivery rows; target >= 1/2 of the ceiling;
4. samples resident memory before and after: deliveries are claimed in batches of 100,
   so it must not grow with N (run two sizes to see it).

    .venv/bin/python bench/bench_campaigns.py                      # quick: 2,000 shoppers
    .venv/bin/python bench/bench_campaigns.py --shoppers 100000 --postgres

With ``--channel push`` the same campaign goes to the passes instead: every shopper has a
card whose pass one device registered (seeded set-based, as pass sync would have stored
it), the stand-in APNs (HTTP/2, TLS client certificates, tests/support/apns_standin.py)
receives the pushes, and the rate is pushes received per second from the send to the last
push (the campaign's deliveries, the pass updates and the APNs sweep, all through the
outbox worker), beside a bare HTTP/2 client (httpx, one connection, 100 streams, as
bench/bench_push.py measures it) sending to the same stand-in in the same run. Run two
sizes to see the memory stay flat:

    .venv/bin/python bench/bench_campaigns.py --channel push --shoppers 2000
    .venv/bin/python bench/bench_campaigns.py --channel push --shoppers 20000
    .venv/bin/python bench/bench_campaigns.py --channel push --shoppers 100000 --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("WALLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


async def seed(n: int, *, push: bool = False) -> None:
    from wallet import clock, db

    now = clock.now()
    chunk = 2000
    async with db.write_transaction():
        start = await db.raw("SELECT COALESCE(MAX(id), 0) AS m FROM account")
        first = int(start[0]["m"]) + 1
        for low in range(0, n, chunk):
            ids = range(first + low, first + min(low + chunk, n))
            marks = ", ".join("({}, 0, 0, 0, 0, {})" for _ in ids)
            args: list[Any] = []
            for i in ids:
                args += [i, now]
            await db.raw(
                "INSERT INTO account (id, balance, pending, debt, lifetime_spend_kopecks, "
                f"created_at) VALUES {marks}",
                *args,
            )
            flag = "true" if push else "false"
            rows = ", ".join(
                f"({{}}, {{}}, {{}}, {{}}, 'v1', {{}}, 'v1', true, {{}}, {flag}, {{}})" for _ in ids
            )
            args = []
            for i in ids:
                args += [i, f"Покупатель {i}", f"shopper{i}@example.ru", now, now, now, now]
            await db.raw(
                "INSERT INTO member (account, name, email, consent_program_at, "
                "consent_program_version, consent_data_at, consent_data_version, "
                "marketing_email, marketing_email_at, marketing_push, created_at) "
                f"VALUES {rows}",
                *args,
            )
            if push:
                await seed_passes(list(ids), now)
    if not db.is_sqlite():
        # A running database has statistics (autovacuum analyzes it; this machine's
        # PostgreSQL runs with autovacuum off): without them the planner takes 50 serials
        # in an IN list for a quarter of the table and scans it all.
        await db.raw("ANALYZE")
    async with db.write_transaction():
        if not db.is_sqlite():
            await db.raw(
                "SELECT setval(pg_get_serial_sequence('account', 'id'), "
                "(SELECT MAX(id) FROM account))"
            )
            if push:
                await db.raw(
                    "SELECT setval(pg_get_serial_sequence('card', 'id'), (SELECT MAX(id) FROM card))"
                )


async def seed_passes(ids: list[int], now: Any) -> None:
    """A virtual card per account, its pass as pass sync stores it once served, and one
    device that registered it (ids of cards = ids of accounts, serials made up)."""
    from wallet import db

    marks = ", ".join("({}, {}, {}, 'virtual', 'main', 'active', '', {}, {})" for _ in ids)
    args: list[Any] = []
    for i in ids:
        args += [i, f"77{i:014d}", i, f"bench{i:010d}", now]
    await db.raw(
        "INSERT INTO card (id, number, account, kind, role, status, holder_name, pass_serial, "
        f"created_at) VALUES {marks}",
        *args,
    )
    marks = ", ".join("({}, {}, {}, 1, {}, '', '', '', '', {})" for _ in ids)
    args = []
    for i in ids:
        args += [i, i, f"bench{i:010d}", now, now]
    await db.raw(
        "INSERT INTO pass_card (card_id, account_id, serial, tag, modified_at, fingerprint, "
        f"message_id, message_header, message_text, created_at) VALUES {marks}",
        *args,
    )
    marks = ", ".join("({}, {}, {}, {}, 1, {})" for _ in ids)
    args = []
    for i in ids:
        args += [
            f"dev{i:010d}:bench{i:010d}",
            f"dev{i:010d}",
            f"bench{i:010d}",
            f"tok{i:010d}",
            now,
        ]
    await db.raw(
        "INSERT INTO pass_registration (key, device_id, serial, push_token, pushed_tag, "
        f"created_at) VALUES {marks}",
        *args,
    )
    # Serving a pass takes its tag from the counter row (passsync.rows.next_tags): the passes
    # above carry tag 1, so the counter must stand at 1 too. Left empty, the first pass the
    # campaign changes got tag 1 again, equal to its device's pushed_tag, and was never
    # pushed (500 sent, 499 received).
    await db.raw(
        "INSERT INTO pass_tag_counter (id, value) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET value = CASE WHEN pass_tag_counter.value > 1 "
        "THEN pass_tag_counter.value ELSE 1 END"
    )


async def ceiling(count: int) -> float:
    """The sink's receive rate alone: the same pool, the same message, no database."""
    from wallet.campaigns import rendering, sending
    from wallet.mail import service as mail

    camp = {
        "name": "bench",
        "subject": "Привет, {{ name }}",
        "body": "Текст письма.",
        "template": "campaign_default",
    }
    gate = asyncio.Semaphore(sending.CONCURRENCY["email"])

    async def one(i: int) -> None:
        async with gate:
            context = {
                "name": f"Покупатель {i}",
                "balance": 0,
                "burning_points": 0,
                "burning_date": "",
                "unsubscribe_url": "http://x/unsubscribe?token=1",
            }
            message = rendering.email_message(
                camp, context, to=f"c{i}@example.ru", lang="ru", message_key=f"c{i}"
            )
            await mail.send_message(message)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> None:
    import dataclasses

    from aiosmtpd.controller import Controller

    from wallet import clock, db, wiring
    from wallet import settings as settings_module
    from wallet.campaigns import service as campaigns
    from wallet.campaigns.schemas import CampaignIn
    from wallet.mail import service as mail
    from wallet.platform import worker

    counter = Counter()
    port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    settings_module.override(
        dataclasses.replace(settings_module.get(), smtp_host="127.0.0.1", smtp_port=port)
    )
    runtime = contextlib.AsyncExitStack()
    await runtime.enter_async_context(wiring.running(settings_module.get()))
    try:
        await seed(args.shoppers)
        alone = await ceiling(args.ceiling)
        counter.count = 0
        before = rss_mb()
        now = clock.now()
        async with db.write_transaction():
            created = await campaigns.create_campaign(
                CampaignIn(
                    name="bench",
                    subject="Привет, {{ name }}",
                    body="Текст письма.",
                    email_rate=100_000,
                ),
                actor="bench",
                now=now,
            )
            await campaigns.schedule(created.id, now, actor="bench", now=now)
        started = time.perf_counter()
        peak = before
        # The worker as `wallet serve` and `wallet worker` run it.
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run_forever(stop))
        try:
            while True:
                await asyncio.sleep(0.05)
                peak = max(peak, rss_mb())
                left = await db.raw(
                    "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE status IN "
                    "('pending', 'sending')) AS waiting FROM delivery"
                )
                if int(left[0]["n"]) and not int(left[0]["waiting"]):
                    break
        finally:
            stop.set()
            await running
        elapsed = time.perf_counter() - started
        done = await campaigns.get_campaign(created.id)
        rate = counter.count / elapsed
        print(f"database              {'postgresql' if args.postgres else 'sqlite'}")
        print(f"shoppers              {args.shoppers}")
        print(f"sink alone            {alone:8.0f} messages/s ({args.ceiling} messages)")
        print(f"campaign              {rate:8.0f} messages/s ({counter.count} in {elapsed:.1f} s)")
        print(f"ratio                 {rate / alone:8.2f}  (target >= 0.50)")
        print(f"figures               {done.figures[0]}")
        print(f"resident memory       {before:.0f} MB before, peak {peak:.0f} MB during")
        print(
            f"max RSS (getrusage)   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    finally:
        await mail.pool().close()
        await runtime.aclose()
        controller.stop()


async def run_push(args: argparse.Namespace) -> None:
    import dataclasses
    import logging

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_push import _bare_client_rate

    from tests.support.apns_standin import running_apns
    from wallet import clock, db, wiring
    from wallet import settings as settings_module
    from wallet.campaigns import service as campaigns
    from wallet.campaigns.schemas import CampaignIn
    from wallet.passsync import apns
    from wallet.platform import worker

    logging.getLogger("httpx").setLevel(logging.WARNING)
    certs = Path(os.environ["WALLET_CERTS_DIR"])
    async with running_apns(certs, certs.parent) as standin:
        settings_module.override(
            dataclasses.replace(
                settings_module.get(),
                base_url="https://bench.local",
                apns_url=standin.url,
                apns_ca=str(certs / "apple-root.pem"),
            )
        )
        runtime = contextlib.AsyncExitStack()
        await runtime.enter_async_context(wiring.running(settings_module.get()))
        try:
            await seed(args.shoppers, push=True)
            # The program's first rules version is stored on first use: make it now, as a
            # running program has it, not in a race of the first pass updates.
            from wallet.rules import service as rules_service

            await rules_service.rules_at(clock.now())
            before = rss_mb()
            now = clock.now()
            async with db.write_transaction():
                created = await campaigns.create_campaign(
                    CampaignIn(
                        name="bench",
                        channels=["push"],
                        push_header="Неделя скидок",
                        push_text="{{ name }}, у вас {{ balance }} баллов",
                        push_rate=100_000,
                    ),
                    actor="bench",
                    now=now,
                )
                await campaigns.schedule(created.id, now, actor="bench", now=now)
            standin.record = False  # count only: memory figures are the sender's
            standin.reset()
            started = time.perf_counter()
            peak = before
            marked_at = 0.0
            last_count, last_change = 0, time.perf_counter()
            # The worker as `wallet serve` and `wallet worker` run it.
            stop = asyncio.Event()
            running = asyncio.create_task(worker.run_forever(stop))
            try:
                polls = 0
                while standin.received < args.shoppers:
                    await asyncio.sleep(0.05)
                    peak = max(peak, rss_mb())
                    polls += 1
                    # Counting 100,000 deliveries is work for the database: twice a second.
                    if not marked_at and polls % 10 == 0:
                        left = await db.raw(
                            "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE status IN "
                            "('pending', 'sending')) AS waiting FROM delivery"
                        )
                        if int(left[0]["n"]) and not int(left[0]["waiting"]):
                            marked_at = time.perf_counter()
                    if standin.received != last_count:
                        last_count, last_change = standin.received, time.perf_counter()
                    elif time.perf_counter() - last_change > 10:
                        break  # nothing more is coming: report what arrived
            finally:
                stop.set()
                await running
            received = standin.received
            elapsed = (standin.last_at if received else time.perf_counter()) - started
            done = await campaigns.get_campaign(created.id)
            rate = received / elapsed
            bare = await _bare_client_rate(standin.url, certs, args.ceiling)
            print(f"database              {'postgresql' if args.postgres else 'sqlite'}")
            print(f"passes (one device)   {args.shoppers}")
            print(f"stand-in, bare client {bare:8.0f} pushes/s ({args.ceiling} pushes)")
            print(f"campaign              {rate:8.0f} pushes/s ({received} in {elapsed:.1f} s)")
            if received:
                marked = f"{marked_at - started:.2f} s" if marked_at else "(not seen)"
                print(
                    f"first push after      {standin.first_at - started:8.2f} s, "
                    f"deliveries all marked after {marked}"
                )
            print(f"ratio                 {rate / bare:8.2f}")
            print(f"figures               {done.figures[0]}")
            print(f"resident memory       {before:.0f} MB before, peak {peak:.0f} MB during")
            print(
                "max RSS (getrusage)   "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
            )
        finally:
            await apns.close_all()
            await runtime.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shoppers", type=int, default=2000)
    parser.add_argument("--ceiling", type=int, default=2000, help="messages for the sink alone")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--channel", choices=["email", "push"], default="email")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-campaigns-"))
    if args.channel == "push":
        from passes.devcerts import make_dev_certs

        make_dev_certs(tmp / "certs", pass_type_id="pass.ru.example.loyalty", team_id="DEVTEAM123")
    admin_db = None
    if args.postgres:
        import asyncpg

        name = f"bench_campaigns_{secrets.token_hex(3)}"

        async def create() -> None:
            conn = await asyncpg.connect(PG_URL)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()

        asyncio.run(create())
        url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
        admin_db = name
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    env = {
        **os.environ,
        "WALLET_DATABASE_URL": url,
        "WALLET_CERTS_DIR": str(tmp / "certs"),
        "WALLET_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "wallet", "migrate"], cwd=ROOT, env=env, check=True)
    try:
        asyncio.run(run_push(args) if args.channel == "push" else run(args))
    finally:
        if admin_db is not None:
            import asyncpg

            async def drop() -> None:
                conn = await asyncpg.connect(PG_URL)
                await conn.execute(f'DROP DATABASE "{admin_db}" WITH (FORCE)')
                await conn.close()

            asyncio.run(drop())


if __name__ == "__main__":
    main()
