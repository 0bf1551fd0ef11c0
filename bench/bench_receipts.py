"""POS receipts on PostgreSQL: the service beside pgbench running the same SQL.

What it does, in one run on one scratch database:
1. makes a scratch database next to WALLET_BENCH_POSTGRES_URL's, migrates it with
   `wallet migrate`, adds a store, a till key and N shoppers;
2. starts `uvicorn wallet.asgi:app` (no access log, embedded worker off: workers are
   separate processes in production) and drives POST /api/v1/pos/receipts with wrk at 50
   connections for --seconds (closed loop): receipts/s and p50/p99;
3. runs pgbench with 50 clients for the same time on a script of the SQL one receipt
   issues (the same statements, in one transaction): transactions/s; the ratio is the
   figure (target: the service >= 1/4 of pgbench);
4. offers receipts at half the service's sustained rate as a fixed arrival rate (open
   loop, latency counted from the planned send time, so a stall is not hidden): p50/p99
   (target p99 < 50 ms);
5. samples the server's resident memory at the start and end of each phase.

    .venv/bin/python bench/bench_receipts.py [--seconds 30] [--shoppers 2000] [--workers 1]
        [--worker] [--profile] [--promotions 200 [--alternate ROUNDS]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BASE_URL = os.environ.get("WALLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

LUA = r"""
local counter = 0
local cards = {}
for line in io.lines("%(cards)s") do cards[#cards + 1] = line end
local thread_id = 0
setup = function(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
request = function()
  counter = counter + 1
  local card = cards[math.random(#cards)]
  local body = string.format(
    '{"receipt_id":"%(run)s-%%d-%%d","card_number":"%%s","occurred_at":"%(at)s",' ..
    '"lines":[{"sku":"MILK","category":"dairy","quantity":2,"amount":17980},' ..
    '{"sku":"BREAD","category":"bakery","quantity":1,"amount":6490}],"redeem_points":0}',
    tid, counter, card)
  return wrk.format("POST", "/api/v1/pos/receipts",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%.1f %%.1f %%.1f\n", summary.requests,
    summary.errors.status, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean))
end
"""

# The statements one receipt issues (read off the service with log_statement=all), with
# pgbench variables in place of the values.
PGBENCH_SQL = """
\\set card random(1, :ncards)
\\set rid random(1, 1000000000)
BEGIN;
SELECT id, number, account AS account_id, kind, role, status, holder_name, replaced_by, pass_serial FROM card WHERE id = :card;
SELECT id, balance, pending, debt, lifetime_spend_kopecks, next_lot_event_at FROM account WHERE id = :card FOR UPDATE;
SELECT request_hash, result FROM receipt WHERE store_key = '1:P' || :rid || '-' || :client_id LIMIT 1;
INSERT INTO receipt (store, external_id, store_key, card, account_id, occurred_at, posted_at, request_hash, total_kopecks, paid_kopecks, redeemed_points, earned_points, earned_lot_id, refunded_points, rules_id, result) VALUES (1, 'P' || :rid, '1:P' || :rid || '-' || :client_id || '-' || random(), :card, :card, now(), now(), 'x', 24470, 24470, 0, 12, NULL, 0, 1, '{}') RETURNING id \\gset
INSERT INTO receipt_line (receipt, line_no, sku, category, quantity, amount_kopecks, redeemed_kopecks, earned_points, returned_kopecks, returned_redeemed_kopecks, returned_earned_points) VALUES (:id, 1, 'MILK', 'dairy', 2, 17980, 0, 9, 0, 0, 0), (:id, 2, 'BREAD', 'bakery', 1, 6490, 0, 3, 0, 0, 0);
INSERT INTO lot (account, amount, remaining, earned_at, available_from, expires_at, is_pending, source, receipt_id) VALUES (:card, 12, 12, now(), now(), now() + interval '6 months', false, 'receipt', :id) RETURNING id AS lot_id \\gset
INSERT INTO journal_entry (account, lot, kind, points, receipt_id, actor, reason, created_at) VALUES (:card, :lot_id, 'earn', 12, :id, 'pos:bench', 'receipt', now());
UPDATE account SET balance = balance + 12, pending = pending + 0, debt = debt - 0, next_lot_event_at = now() + interval '6 months' WHERE id = :card;
UPDATE account SET lifetime_spend_kopecks = lifetime_spend_kopecks + 24470 WHERE id = :card;
UPDATE receipt SET result = '{"receipt_id": "x"}', earned_lot_id = :lot_id WHERE id = :id;
INSERT INTO outbox_job (kind, dedupe_key, payload, status, attempts, due_at, last_error, created_at, updated_at) VALUES ('pass_update', 'pass:account:' || :card, '{}', 'pending', 0, now(), '', now(), now()) ON CONFLICT (dedupe_key) DO NOTHING;
COMMIT;
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    total = 0
    for child in [pid, *children(pid)]:
        try:
            text = Path(f"/proc/{child}/status").read_text()
        except FileNotFoundError:
            continue
        total += int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (those still alive)."""
    return sum(cpu_by_pid(pids).values())


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return found


def cpu_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU used between two readings; a process that appeared meanwhile (a backend a
    second web process opened during the run) counts from zero."""
    return sum(used - before.get(pid, 0.0) for pid, used in now.items())


# Where a web process's CPU goes. py-spy samples with --native (C frames too); each sample
# counts for the innermost frame that belongs to a known part, so the C code and system
# calls under asyncpg's protocol are the driver's, those under Litestar the web stack's.
PROFILE_PARTS = (
    ("our code (wallet/)", ("(wallet/",)),
    ("driver (asyncpg)", ("(asyncpg/", "(protocol.c:", "(asyncpg/protocol")),
    ("ORM (piccolo)", ("(piccolo/",)),
    ("web (litestar, uvicorn, httptools)", ("(litestar/", "(uvicorn/", "(httptools/", "(h11/")),
    ("JSON (msgspec)", ("(msgspec/", "msgspec/_core")),
    ("event loop (asyncio, uvloop)", ("(asyncio/", "(selectors.py", "(loop.c:", "(uvloop/")),
)
LOOP = "event loop (asyncio, uvloop)"
SYSCALLS = ("write (libc", "read (libc", "send", "recv", "epoll_")


def _parts_of(frames: Iterable[str]) -> Iterator[str]:
    for frame in frames:
        for name, marks in PROFILE_PARTS:
            if any(mark in frame for mark in marks):
                yield name
                break


def profile_parts(raw: str) -> dict[str, float]:
    """py-spy --format raw (collapsed stacks, "frame;frame;... count") -> share by part,
    plus the share of samples inside a socket system call (any part)."""
    counts: dict[str, int] = {}
    total = syscalls = 0
    for row in raw.splitlines():
        stack, _, n = row.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        # Only what runs inside the event loop (uvicorn's start-up frames are outside it).
        inside = max((i for i, f in enumerate(frames) if "(asyncio/runners.py" in f), default=-1)
        # The innermost part's frame; the event loop only when no other part is on the
        # stack (uvloop's C writes a socket for whoever called it).
        part = "other (stdlib, garbage collector, interpreter)"
        for name in _parts_of(reversed(frames[inside + 1 :])):
            part = name
            if name != LOOP:
                break
        counts[part] = counts.get(part, 0) + int(n)
        total += int(n)
        if frames[-1].startswith(SYSCALLS):
            syscalls += int(n)
    shares = {part: n / total for part, n in sorted(counts.items(), key=lambda kv: -kv[1])}
    shares["of which in socket system calls (read, write, epoll)"] = syscalls / total
    return shares


async def backend_pids(url: str, database: str) -> list[int]:
    """The PostgreSQL server processes serving connections to the bench database."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in found.split()]


def prepare(
    url: str, shoppers: int, env: dict[str, str], promotions: int = 0
) -> tuple[str, list[str]]:
    done = subprocess.run(
        [PY, "-m", "wallet", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"migrate failed: {done.stderr[-2000:]}")
    code = f"""
import asyncio, json
from wallet import clock, db, wiring
from wallet.auth import service as auth
from wallet.members import service as members
from wallet.members.schemas import Consents, EnrolIn
from wallet.rules import service as rules
from wallet.stores import service as stores
from wallet.stores.schemas import StoreIn

async def seed_promotions(count, now):
    # A chain's week: 200 promotions over 40 categories; 10 touch the bench's milk and bread.
    import msgspec
    from datetime import timedelta
    from wallet.promotions import schemas as s
    from wallet.promotions.tables import Promotion
    window = s.Window(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30))
    effects = [s.Multiplier(times=2), s.PercentOff(percent_bp=1000), s.NForM(take=3, pay=2),
               s.PerAmount(points=10, per_kopecks=10_000), s.ThresholdGift(threshold_kopecks=300_000, points=300)]
    rows = []
    for n in range(count):
        category = {{0: "dairy", 1: "bakery"}}.get(n % 40, f"cat{{n % 40}}")
        # A category's five promotions (n, n + 40, ...) differ in effect, stacking mode and
        # group: indexed by n alone they would not (40 is a multiple of 4 and 5, so every
        # milk promotion was a stackable x2), and all ten of the bench's would stack.
        mix = n + n // 40
        d = s.Definition(
            conditions=[window, s.Lines(categories=[category])],
            effects=[effects[mix % len(effects)]],
            priority=n % 50,
            stacking=["stackable", "stackable", "best", "exclusive"][mix % 4],
            group=["", "week", "fresh"][mix % 3],
        )
        rows.append(Promotion(name=f"bench {{n}}", status="active", definition=msgspec.to_builtins(d),
                              created_at=now, updated_at=now))
    async with db.write_transaction():
        if rows:
            await Promotion.insert(*rows)
        await db.fetch("UPDATE promotion_version SET version = version + 1 WHERE id = 1")

async def main():
  async with wiring.running():
    now = clock.now()
    await rules.rules_at(now)
    async with db.write_transaction():
        await stores.create_store(StoreIn(code="B-1", name="Bench"))
        key, _ = await auth.create_key(role="pos", store_code="B-1", name="bench", now=now)
    await seed_promotions({promotions}, now)
    cards = []
    for i in range({shoppers}):
        async with db.write_transaction():
            e = await members.enrol(EnrolIn(name=f"Shopper {{i}}", email=f"s{{i}}@bench.ru",
                consents=Consents(program=True, personal_data=True, terms_version="b")), now=now)
        cards.append(e.card.number)
  print(json.dumps({{"key": key, "cards": cards}}))
asyncio.run(main())
"""
    out = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"seeding failed: {out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["key"], data["cards"]


def run_wrk(
    port: int, key: str, cards_file: Path, seconds: int, connections: int
) -> dict[str, float]:
    at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    run = secrets.token_hex(4)
    script.write_text(LUA % {"cards": cards_file, "at": at, "key": key, "run": run})
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
    ).stdout
    line = next(row for row in out.splitlines() if row.startswith("RESULT"))
    requests, errors, duration_us, p50, p99, mean = (float(x) for x in line.split()[1:])
    return {
        "rps": (requests - errors) / (duration_us / 1e6),
        "errors": errors,
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "mean_ms": mean / 1000,
        "seconds": duration_us / 1e6,
    }


def run_pgbench(url: str, ncards: int, seconds: int, clients: int) -> float:
    script = Path(tempfile.mkstemp(suffix=".sql")[1])
    script.write_text(PGBENCH_SQL)
    out = subprocess.run(
        [
            "pgbench",
            "-n",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-D",
            f"ncards={ncards}",
            "-f",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([\d.]+)", out.stdout)
    if not match:
        raise SystemExit(f"pgbench failed: {out.stdout[-1500:]}{out.stderr[-1500:]}")
    return float(match.group(1))


async def fixed_rate(
    port: int, key: str, cards: list[str], rate: float, seconds: int
) -> dict[str, float]:
    """Open loop: request i is due at start + i/rate whatever happened before it, and its
    latency counts from that due time (a stall is not hidden). Raw keep-alive HTTP/1.1
    connections with prebuilt requests keep the generator's own cost to microseconds, so
    the figure is the server's, not the client's."""
    at = datetime.now(UTC).replace(microsecond=0).isoformat()
    run = secrets.token_hex(4)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors = 0

    def request(index: int) -> bytes:
        body = json.dumps(
            {
                "receipt_id": f"F{run}-{index}",
                "card_number": random.choice(cards),
                "occurred_at": at,
                "redeem_points": 0,
                "lines": [{"sku": "MILK", "category": "dairy", "quantity": 2, "amount": 17980}],
            }
        ).encode()
        head = (
            f"POST /api/v1/pos/receipts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        return head + body

    async def exchange(
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], payload: bytes
    ) -> tuple[bytes, bool]:
        """One request and its reply: the status line, and whether the server keeps the
        connection open. An empty status line means it had closed it."""
        reader, writer = connection
        writer.write(payload)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        length = 0
        keep = True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"connection" and value.strip().lower() == b"close":
                keep = False
        await reader.readexactly(length)
        return status_line, keep

    async def one(index: int, due: float) -> None:
        nonlocal errors
        payload = request(index)
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        connection = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        try:
            status_line, keep = await exchange(connection, payload)
        except (ConnectionError, asyncio.IncompleteReadError):
            # The server closes keep-alive connections left idle (uvicorn after 5 s), which
            # shows only when the next request is written or read: send it again on a new
            # connection. Receipts are idempotent on receipt_id, so a resend posts it once.
            connection[1].close()
            connection = await asyncio.open_connection("127.0.0.1", port)
            status_line, keep = await exchange(connection, payload)
        latencies.append(time.perf_counter() - due)
        if b" 201 " not in status_line:
            errors += 1
        if keep:
            idle.append(connection)
        else:
            connection[1].close()

    start = time.perf_counter() + 0.5
    total = int(rate * seconds)
    await asyncio.gather(*(one(i, start + i / rate) for i in range(total)))
    for _, writer in idle:
        writer.close()
    latencies.sort()
    return {
        "rate": rate,
        "sent": total,
        "errors": errors,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--shoppers", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="connections per web process (default max(10, 60 / workers)); a shared server's"
        " max_connections may need less",
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="run `wallet worker` in its own process beside the web process(es), as production"
        " does (it runs the pass updates, webhooks and pushes the receipts queue)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy (PY_SPY or on PATH) samples the web process(es) over the closed loop:"
        " the share of their CPU in our code, the driver, the web stack, the event loop",
    )
    parser.add_argument(
        "--promotions",
        type=int,
        default=0,
        help="active promotions (run back to back with 0: target >= 0.9 of that rate)",
    )
    parser.add_argument(
        "--alternate",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="with --promotions: one server and database, the promotions switched off and on"
        " between closed-loop windows of --seconds, ROUNDS times each (off/on, then on/off):"
        " the rate with them over the rate without, free of the drift between two runs",
    )
    args = parser.parse_args()
    if args.alternate and not args.promotions:
        raise SystemExit("--alternate needs --promotions N")
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            raise SystemExit(
                f"{tool} is missing: run bench/setup (apt-get install wrk postgresql-client)"
            )

    name = f"wallet_bench_{os.getpid()}_{secrets.token_hex(2)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = BASE_URL.rsplit("/", 1)[0] + f"/{name}"
    tmp = Path(tempfile.mkdtemp())
    env = {
        **os.environ,
        "WALLET_DATABASE_URL": url,
        "WALLET_EMBEDDED_WORKER": "false",
        "WALLET_CERTS_DIR": str(tmp / "certs"),
        "WALLET_LOG_LEVEL": "WARNING",
        "WALLET_DB_POOL_SIZE": str(args.pool or max(10, 60 // args.workers)),
    }
    server = worker = None
    try:
        key, cards = prepare(url, args.shoppers, env, args.promotions)
        cards_file = tmp / "cards.txt"
        cards_file.write_text("\n".join(cards) + "\n")
        port = free_port()
        server = subprocess.Popen(
            [
                PY,
                "-m",
                "uvicorn",
                "wallet.asgi:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--workers",
                str(args.workers),
            ],
            cwd=ROOT,
            env=env,
        )
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        if args.worker:
            # A pool of its own, small: PostgreSQL's 100 connections are shared.
            worker = subprocess.Popen(
                [PY, "-m", "wallet", "worker"],
                cwd=ROOT,
                env={**env, "WALLET_DB_POOL_SIZE": "4"},
            )
        run_wrk(port, key, cards_file, 3, args.connections)  # warm up
        if args.alternate:
            alternate(url, name, server.pid, port, key, cards_file, args)
            return
        rss_start = rss_mb(server.pid)
        service_pids = [server.pid, *children(server.pid)]
        backends = asyncio.run(backend_pids(url, name))
        service_cpu, database_cpu = cpu_seconds(service_pids), cpu_by_pid(backends)
        worker_cpu = cpu_seconds([worker.pid]) if worker else 0.0
        spy = None
        if args.profile:
            py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
            if not py_spy:
                raise SystemExit("--profile needs py-spy (pip install py-spy, or PY_SPY=path)")
            spy = subprocess.Popen(
                [
                    *(py_spy, "record", "--format", "raw", "-r", "200", "-o", str(tmp / "spy.txt")),
                    *(
                        "-d",
                        str(args.seconds),
                        "--subprocesses",
                        "--native",
                        "--pid",
                        str(server.pid),
                    ),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        closed = run_wrk(port, key, cards_file, args.seconds, args.connections)
        served = closed["rps"] * closed["seconds"]
        service_ms = (cpu_seconds(service_pids) - service_cpu) * 1000 / served
        backends_after = asyncio.run(backend_pids(url, name))
        database_ms = cpu_since(database_cpu, cpu_by_pid(backends + backends_after)) * 1000 / served
        worker_ms = (cpu_seconds([worker.pid]) - worker_cpu) * 1000 / served if worker else 0.0
        if spy is not None:
            spy.wait(args.seconds + 30)
            profile = profile_parts((tmp / "spy.txt").read_text())
            # Printed now: pgbench, later, may fail on a shared server's max_connections.
            print(f"web process(es) {service_ms:.2f} ms CPU a receipt; by part (py-spy --native):")
            for part, share in profile.items():
                print(f"    {share:6.1%}  {part}  ({share * service_ms:.2f} ms a receipt)")
        rss_after_closed = rss_mb(server.pid)
        open_loop = asyncio.run(fixed_rate(port, key, cards, closed["rps"] / 2, args.seconds))
        rss_end = rss_mb(server.pid)
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        server = None
        if worker is not None:  # not beside pgbench: its script queues jobs it cannot run
            worker.terminate()
            worker.wait(30)
            worker = None
        tps = run_pgbench(url, len(cards), args.seconds, args.connections)
    finally:
        if server is not None:
            server.kill()
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        asyncio.run(_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))

    ratio = closed["rps"] / tps
    print(
        f"POS receipts, PostgreSQL, {args.connections} connections, {args.seconds} s, "
        f"{args.workers} uvicorn worker(s), {len(cards)} cards"
        + (", `wallet worker` in its own process" if args.worker else "")
    )
    print(
        f"  service (wrk, closed loop): {closed['rps']:.0f} receipts/s, "
        f"p50 {closed['p50_ms']:.1f} ms, p99 {closed['p99_ms']:.1f} ms, errors {closed['errors']:.0f}"
    )
    print(
        f"  CPU per receipt (closed loop): service {service_ms:.2f} ms, "
        f"its PostgreSQL backends {database_ms:.2f} ms  (steadier than rates on a busy machine)"
        + (f", worker process {worker_ms:.2f} ms" if args.worker else "")
    )
    print(f"  pgbench, same SQL:          {tps:.0f} transactions/s")
    print(f"  ratio service/pgbench:      {ratio:.2f}  (target >= 0.25)")
    print(
        f"  fixed rate {open_loop['rate']:.0f}/s (half):     p50 {open_loop['p50_ms']:.1f} ms, "
        f"p99 {open_loop['p99_ms']:.1f} ms, errors {open_loop['errors']}  (target p99 < 50 ms)"
    )
    print(
        f"  server RSS MB: start {rss_start:.0f}, after closed loop {rss_after_closed:.0f}, "
        f"end {rss_end:.0f}"
    )


def alternate(
    url: str, name: str, pid: int, port: int, key: str, cards: Path, args: argparse.Namespace
) -> None:
    """Closed-loop windows with the bench's promotions off and on in turn, in one server on
    one database: each window's receipts/s and CPU per receipt (service + PostgreSQL), then
    the pooled ratios. Two separate runs on a shared machine differ by more than the
    promotions cost (a neighbour's load, the clock speed drift within minutes)."""

    async def counts() -> tuple[int, int]:
        connection = await asyncpg.connect(url)
        try:
            row = await connection.fetchrow(
                "SELECT (SELECT count(*) FROM receipt) AS r, "
                "(SELECT count(*) FROM receipt_promotion) AS p"
            )
            return int(row["r"]), int(row["p"])
        finally:
            await connection.close()

    async def switch(on: bool) -> None:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "UPDATE promotion SET status = $1 WHERE name LIKE 'bench %'",
                "active" if on else "paused",
            )
            await connection.execute(
                "UPDATE promotion_version SET version = version + 1 WHERE id = 1"
            )
        finally:
            await connection.close()

    service_pids = [pid, *children(pid)]
    done: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for round_ in range(args.alternate):
        for on in (False, True) if round_ % 2 == 0 else (True, False):
            asyncio.run(switch(on))
            # Every web process sees the change within its recheck (one second), and the
            # first receipts after it load the set: a short window not counted.
            time.sleep(1.5)
            run_wrk(port, key, cards, 2, args.connections)
            service_cpu = cpu_seconds(service_pids)
            backends = asyncio.run(backend_pids(url, name))
            database_cpu = cpu_by_pid(backends)
            receipts, applied = asyncio.run(counts())
            closed = run_wrk(port, key, cards, args.seconds, args.connections)
            served = closed["rps"] * closed["seconds"]
            after = asyncio.run(backend_pids(url, name))
            receipts_after, applied_after = asyncio.run(counts())
            per_receipt = (applied_after - applied) / max(1, receipts_after - receipts)
            service_ms = (cpu_seconds(service_pids) - service_cpu) * 1000 / served
            database_ms = cpu_since(database_cpu, cpu_by_pid(backends + after)) * 1000 / served
            cpu_ms = service_ms + database_ms
            done[on].append((closed["rps"], cpu_ms, service_ms, database_ms))
            print(
                f"  round {round_ + 1}, {args.promotions if on else 0:>4} promotions: "
                f"{closed['rps']:5.0f} receipts/s, {cpu_ms:.2f} ms CPU a receipt "
                f"({service_ms:.2f} service + {database_ms:.2f} PostgreSQL), "
                f"{per_receipt:.1f} applied a receipt, errors {closed['errors']:.0f}",
                flush=True,
            )
    rate = {on: statistics.fmean(row[0] for row in rows) for on, rows in done.items()}
    cpu = {on: statistics.fmean(row[1] for row in rows) for on, rows in done.items()}
    service = {on: statistics.fmean(row[2] for row in rows) for on, rows in done.items()}
    database = {on: statistics.fmean(row[3] for row in rows) for on, rows in done.items()}
    pairs = [on[0] / off[0] for off, on in zip(done[False], done[True], strict=True)]
    print(
        f"POS receipts, PostgreSQL, {args.connections} connections, {args.alternate} rounds of "
        f"{args.seconds} s windows, {args.promotions} promotions off and on in one server"
    )
    print(
        f"  rate with promotions / without: {rate[True] / rate[False]:.2f} pooled "
        f"({rate[True]:.0f} / {rate[False]:.0f} receipts/s), rounds "
        + ", ".join(f"{p:.2f}" for p in pairs)
        + "  (target >= 0.9)"
    )
    print(
        f"  CPU a receipt without / with:   {cpu[False] / cpu[True]:.2f} "
        f"({cpu[False]:.2f} / {cpu[True]:.2f} ms, service + PostgreSQL)"
    )
    print(
        f"  of which service:               {service[False]:.2f} / {service[True]:.2f} ms, "
        f"PostgreSQL {database[False]:.2f} / {database[True]:.2f} ms"
    )


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(BASE_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
