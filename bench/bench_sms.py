"""An SMS campaign into the SMSC stand-in, beside a bare aiosmpplib client's rate to the same
stand-in in the same run.

What it does, in one process on one scratch database (SQLite file by default, or a scratch
PostgreSQL database next to WALLET_BENCH_POSTGRES_URL's with --postgres):
1. migrates it with `wallet migrate` and adds N shoppers with a phone who opted in to
   marketing SMS (set-based INSERTs: the bench measures sending, not enrolment);
2. starts the SMSC stand-in (tests/support/smsc_standin.py: real SMPP 3.4 PDUs on
   loopback, a deliver_sm receipt for every message), counting only;
3. measures a bare aiosmpplib ESME bound to it: the same library, bind and rate limit as
   ours, N submit_sm of the same kind of text, no database (the ceiling);
4. starts the outbox worker as `wallet worker` does and waits until its start-up jobs
   (the day's schedule slots, the nightly jobs they start) are done: a steady service, not
   one starting with the send;
5. creates an SMS campaign for everyone and sends it now (the commit wakes the running
   worker, as it does in `wallet serve`) until the stand-in has every message: messages/s
   from the send to the last message (the delivery rows, the SMS outbox rows, an sms.send
   job per chunk, the submits and the receipts recorded); target >= 0.7 of the bare client;
6. samples resident memory before and during (peak): it must not grow with N.

    PYTHONPATH=. .venv/bin/python bench/bench_sms.py                    # 10,000 shoppers
    PYTHONPATH=. .venv/bin/python bench/bench_sms.py --shoppers 2000    # memory: a smaller run
    PYTHONPATH=. .venv/bin/python bench/bench_sms.py --postgres

The operator's rate (WALLET_SMPP_RATE) is lifted to 100,000 parts/s for both sides, so the
figures are what this machine can do, not what a real bind allows (20/s by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("WALLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RATE = 100_000
WINDOW = 50
TEXT = "{{ name }}, скидка 20% в субботу!"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def phone(i: int) -> str:
    return f"+7916{i:07d}"


async def seed(n: int) -> None:
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
            rows = ", ".join("({}, {}, {}, {}, 'v1', {}, 'v1', true, {}, {})" for _ in ids)
            args = []
            for i in ids:
                args += [i, f"Покупатель {i}", phone(i), now, now, now, now]
            await db.raw(
                "INSERT INTO member (account, name, phone, consent_program_at, "
                "consent_program_version, consent_data_at, consent_data_version, "
                "marketing_sms, marketing_sms_at, created_at) "
                f"VALUES {rows}",
                *args,
            )
    if not db.is_sqlite():
        await db.raw("ANALYZE")
        async with db.write_transaction():
            await db.raw(
                "SELECT setval(pg_get_serial_sequence('account', 'id'), "
                "(SELECT MAX(id) FROM account))"
            )


async def settled(limit: float = 120.0) -> None:
    """Until the outbox has no job running or due (the worker's start-up jobs are done)."""
    from wallet import clock
    from wallet.platform import service as platform

    deadline = time.perf_counter() + limit
    quiet = 0
    # Idle at three looks 0.3 s apart (longer than the worker's poll): the first look may
    # come before the worker's first round has queued anything.
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.3)
        now = clock.now()
        busy = [
            row
            for row in await platform.outbox_backlog(now)
            if row["status"] == "running" or (row["status"] == "pending" and row["oldest_due"])
        ]
        quiet = 0 if busy else quiet + 1
        if quiet == 3:
            return
    raise SystemExit(f"the worker's start-up jobs were still running after {limit:.0f} s")


async def bare_rate(host: str, port: int, count: int) -> tuple[float, float]:
    """aiosmpplib alone: bound as transceiver, ``count`` submits, every submit_sm_resp;
    (messages/s, process CPU seconds it took)."""
    from aiosmpplib import ESME, AbstractHook, PhoneNumber, SubmitSm, SubmitSmResp
    from aiosmpplib.ratelimiter import SimpleRateLimiter

    done = asyncio.Event()
    answered = 0
    # A window of messages in flight, as the worker's jobs keep: flooding the library's
    # queue makes it answer faster than it records what it sent ("Could not correlate"),
    # and the error lines it logs then are what gets measured.
    window = asyncio.Semaphore(WINDOW)

    class Hook(AbstractHook):
        async def sending(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
            return None

        async def received(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
            nonlocal answered
            if isinstance(smpp_message, SubmitSmResp):
                window.release()
                answered += 1
                if answered >= count:
                    done.set()

        async def send_error(self, smpp_message: Any, error: Exception, client_id: str) -> None:
            return None

    esme = ESME(
        smsc_host=host,
        smsc_port=port,
        system_id="wallet",
        password="secret",
        hook=Hook(),
        log_level="WARNING",
        rate_limiter=None,
    )
    esme.rate_limiter = SimpleRateLimiter(logger=esme._logger, send_rate=float(RATE))
    task = asyncio.create_task(esme.start())
    while esme.session_state.name != "BOUND_TRX":
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    cpu_started = time.process_time()
    for i in range(count):
        await window.acquire()
        await esme.broker.enqueue(
            SubmitSm(
                short_message=f"Покупатель {i}, скидка 20% в субботу!",
                source=PhoneNumber("Loyalty"),
                destination=PhoneNumber(phone(i).lstrip("+")),
                log_id=f"bare{i}",
                encoding="ucs2",
                esm_class=0x40,
                auto_message_payload=False,
                registered_delivery=1,
            )
        )
    await done.wait()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    with contextlib.suppress(Exception):
        await asyncio.wait_for(esme.stop(), 5)
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    return count / elapsed, cpu


async def run(args: argparse.Namespace) -> None:
    import dataclasses

    from tests.support.smsc_standin import SmscStandin
    from wallet import clock, db, wiring
    from wallet import settings as settings_module
    from wallet.campaigns import service as campaigns
    from wallet.campaigns.schemas import CampaignIn
    from wallet.platform import worker
    from wallet.sms import smpp

    standin = await SmscStandin(record=False).start()
    settings_module.override(
        dataclasses.replace(
            settings_module.get(),
            smpp_host=standin.host,
            smpp_port=standin.port,
            smpp_system_id=standin.system_id,
            smpp_password=standin.password,
            smpp_rate=RATE,
            # A bench runs at any hour: no quiet hours.
            sms_quiet_hours=(0, 0),
        )
    )
    runtime = contextlib.AsyncExitStack()
    await runtime.enter_async_context(wiring.running(settings_module.get()))
    try:
        await seed(args.shoppers)
        bare_before, bare_cpu_before = await bare_rate(standin.host, standin.port, args.ceiling)
        standin.accepted = 0
        # The worker runs before the send, as a service's does, and its start-up work (the
        # schedule slots of the day and the nightly jobs they start) is done before the
        # clock starts: it ran beside the campaign when the worker was started with it.
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run_forever(stop))
        await settled()
        before = rss_mb()
        now = clock.now()
        async with db.write_transaction():
            created = await campaigns.create_campaign(
                CampaignIn(name="bench", channels=["sms"], sms_text=TEXT),
                actor="bench",
                now=now,
            )
            await campaigns.schedule(created.id, now, actor="bench", now=now)
        print(f"sending the campaign (pid {os.getpid()})", flush=True)
        started = time.perf_counter()
        cpu_started = time.process_time()
        peak = before
        last_count, last_change = 0, time.perf_counter()
        first_at = 0.0
        try:
            while standin.accepted < args.shoppers:
                await asyncio.sleep(0.05)
                peak = max(peak, rss_mb())
                if standin.accepted and not first_at:
                    first_at = time.perf_counter()
                if standin.accepted != last_count:
                    last_count, last_change = standin.accepted, time.perf_counter()
                elif time.perf_counter() - last_change > 15:
                    break  # nothing more is coming: report what arrived
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            # The receipts trail the last submit by a moment: let them land.
            for _ in range(100):
                figures = (await campaigns.get_campaign(created.id)).figures[0]
                if figures.sms is not None and figures.sms.delivered >= standin.accepted:
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await running
        rate = standin.accepted / elapsed
        sent = standin.accepted
        # The bare client again, after: on a box shared with other work the load moves
        # within a run, and a ratio to one side's moment alone moved with it (0.46 and 0.88 for
        # the same code 80 s apart). The ratio is to the mean of both.
        bare_after, bare_cpu_after = await bare_rate(standin.host, standin.port, args.ceiling)
        bare = (bare_before + bare_after) / 2
        bare_cpu = (bare_cpu_before + bare_cpu_after) / 2
        done = await campaigns.get_campaign(created.id)
        print(f"database              {'postgresql' if args.postgres else 'sqlite'}")
        print(f"shoppers              {args.shoppers}")
        print(
            f"bare aiosmpplib       {bare:8.0f} messages/s ({args.ceiling} messages; "
            f"{bare_before:.0f} before the campaign, {bare_after:.0f} after)"
        )
        print(f"campaign              {rate:8.0f} messages/s ({sent} in {elapsed:.1f} s)")
        print(f"ratio                 {rate / bare:8.2f}  (target >= 0.70)")
        print(f"process CPU           {cpu:8.1f} s in those {elapsed:.1f} s (every thread)")
        print(
            f"CPU per 1,000         {cpu / max(sent, 1) * 1000:8.2f} s campaign (this process: "
            f"{'not the PostgreSQL server, ' if args.postgres else ''}SMSC stand-in included), "
            f"{bare_cpu / args.ceiling * 1000:.2f} s bare"
        )
        if first_at:
            print(f"first message after   {first_at - started:8.2f} s")
        print(f"figures               {done.figures[0]}")
        refused = await db.raw(
            "SELECT error, COUNT(*) AS n FROM sms_message WHERE status = 'dead' GROUP BY error"
        )
        for row in refused:
            print(f"refused               {row['n']}: {row['error']}")
        print(f"resident memory       {before:.0f} MB before, peak {peak:.0f} MB during")
        print(
            f"max RSS (getrusage)   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    finally:
        await smpp.close()
        await runtime.aclose()
        await standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shoppers", type=int, default=10_000)
    parser.add_argument("--ceiling", type=int, default=10_000, help="messages for the bare client")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sms-"))
    admin_db = None
    if args.postgres:
        import asyncpg

        name = f"bench_sms_{secrets.token_hex(3)}"

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
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "wallet", "migrate"], cwd=ROOT, env=env, check=True)
    try:
        asyncio.run(run(args))
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
