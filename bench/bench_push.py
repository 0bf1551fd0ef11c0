"""Pass pushes: from a receipt's commit to the push at a stand-in APNs, and pushes per second.

What it does, in one process and one event loop (as the embedded `wallet serve` runs the
app and its worker), on a scratch SQLite file (or --database-url postgresql://...):
1. makes a dev PKI, migrates the database with `wallet migrate`, starts the stand-in APNs
   (HTTP/2, TLS with client certificates, tests/support/apns_standin.py);
2. latency: N shoppers enrol, download their pass and register one device each through the
   PassKit web service; the outbox worker runs (`run_forever`, its default 0.2 s poll);
   1,000 receipts are posted through the HTTP API round-robin over the shoppers (so one
   shopper's receipts are seconds apart and each push answers one receipt); for each
   receipt, the time from the till's reply (the commit) to the next push to that shopper's
   device: p50/p99 (target p99 < 1 s);
3. throughput: 10,000 registered devices (5,000 passes on an iPhone and a Watch each), all
   passes changed in one transaction with their push jobs queued (what `refresh_account`
   commits), then the worker drains them: pushes per second, from the first claim to the
   last push received;
4. beside it, in the same run, a bare HTTP/2 client (httpx, one connection, 100 streams in
   flight) sends 10,000 pushes to the same stand-in: the stand-in's own rate. Target: the
   service reaches at least half of it.

    .venv/bin/python bench/bench_push.py [--receipts 1000] [--shoppers 200] [--devices 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import secrets
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx

from tests.support.apns_standin import running_apns


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _bare_client_rate(url: str, certs: Path, count: int, streams: int = 100) -> float:
    context = ssl.create_default_context(cafile=str(certs / "apple-root.pem"))
    context.load_cert_chain(str(certs / "pass-cert.pem"), str(certs / "pass-key.pem"))
    gate = asyncio.Semaphore(streams)
    async with httpx.AsyncClient(
        http2=True, verify=context, limits=httpx.Limits(max_connections=1)
    ) as http:
        await http.post(f"{url}/3/device/warmup", content=b"{}", headers={"apns-topic": "x"})

        async def one(n: int) -> None:
            async with gate:
                reply = await http.post(
                    f"{url}/3/device/bare{n:08d}",
                    content=b"{}",
                    headers={"apns-topic": "pass.ru.example.loyalty"},
                )
                assert reply.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return count / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    certs = tmp / "certs"
    from passes.devcerts import make_dev_certs

    make_dev_certs(certs, pass_type_id="pass.ru.example.loyalty", team_id="DEVTEAM123")
    url = args.database_url or f"sqlite:///{tmp / 'wallet.sqlite3'}"
    env = {
        **os.environ,
        "WALLET_DATABASE_URL": url,
        "WALLET_CERTS_DIR": str(certs),
        # Every shopper enrols from loopback: the per-address limit would stop the 31st.
        "WALLET_ENROL_LIMIT_PER_IP": "0",
    }
    subprocess.run([sys.executable, "-m", "wallet", "migrate"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)

    from wallet import clock, db, wiring
    from wallet import settings as settings_module
    from wallet.app import create_app
    from wallet.passsync import apns
    from wallet.passsync.outbox import queue_push
    from wallet.passsync.tables import PassCard, PassRegistration
    from wallet.platform import worker

    async with running_apns(certs, tmp) as standin:
        settings_module.override(
            dataclasses.replace(
                settings_module.load(),
                base_url="https://bench.local",
                apns_url=standin.url,
                apns_ca=str(certs / "apple-root.pem"),
                embedded_worker=False,
            )
        )
        # The runtime the app's lifespan would build (the bench drives the app itself).
        runtime = contextlib.AsyncExitStack()
        await runtime.enter_async_context(wiring.running(settings_module.get()))
        from tests.support.shop import Shop

        app = create_app(manage_db=False)
        import logging

        logging.getLogger("httpx").setLevel(logging.WARNING)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as http:
            shop = await Shop.open(http)
            tokens: dict[str, str] = {}
            print(f"enrolling {args.shoppers} shoppers, each with a pass on one device...")
            for n in range(args.shoppers):
                shopper = await shop.enrol(f"Покупатель {n}", email=f"bench{n}@example.ru")
                me = await shop.me(shopper)
                link = urlsplit(me["links"]["apple_pass"])
                reply = await http.get(f"{link.path}?{link.query}")
                import io
                import json
                import zipfile

                with zipfile.ZipFile(io.BytesIO(reply.content)) as bundle:
                    doc = json.loads(bundle.read("pass.json"))
                push_token = secrets.token_hex(32)
                registered = await http.post(
                    f"/passkit/v1/devices/{secrets.token_hex(16)}/registrations/"
                    f"{doc['passTypeIdentifier']}/{doc['serialNumber']}",
                    json={"pushToken": push_token},
                    headers={"Authorization": f"ApplePass {doc['authenticationToken']}"},
                )
                assert registered.status_code == 201
                tokens[shopper.card] = push_token
            await worker.run_until_idle()
            standin.pushes.clear()

            stop = asyncio.Event()
            running = asyncio.create_task(worker.run_forever(stop))
            cards = list(tokens)
            commits: list[tuple[str, float]] = []
            print(f"posting {args.receipts} receipts with the worker running...")
            started = time.perf_counter()
            for n in range(args.receipts):
                card = cards[n % len(cards)]
                await shop.receipt(
                    card,
                    f"B-{n}",
                    [{"sku": "MILK", "category": "dairy", "quantity": 1, "amount": 8990}],
                )
                commits.append((tokens[card], time.perf_counter()))
                # A till's pace: the bench measures delivery, not how fast we can post.
                await asyncio.sleep(args.interval)
            posting = time.perf_counter() - started
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                last_token, last_commit = commits[-1]
                if any(p.at >= last_commit for p in standin.to(last_token)):
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await running
            by_token: dict[str, list[float]] = {}
            for push in standin.pushes:
                by_token.setdefault(push.token, []).append(push.at)
            latencies = []
            missing = 0
            for token, at in commits:
                later = [t for t in by_token.get(token, []) if t >= at]
                if later:
                    latencies.append(min(later) - at)
                else:
                    missing += 1
            print(
                f"receipts: {args.receipts} in {posting:.1f} s; pushes received: "
                f"{len(standin.pushes)}; receipts with no push after them: {missing}"
            )
            print(
                f"commit -> push: p50 {statistics.median(latencies) * 1000:.0f} ms, "
                f"p99 {_quantile(latencies, 0.99) * 1000:.0f} ms, "
                f"max {max(latencies) * 1000:.0f} ms (target p99 < 1000 ms)"
            )

        # Throughput: 10,000 devices behind changed passes, queued as refresh_account does.
        passes = args.devices // 2
        print(f"registering {args.devices} devices on {passes} passes...")
        now = clock.now()
        async with db.write_transaction():
            for start in range(0, passes, 500):
                await PassCard.insert(
                    *[
                        PassCard(
                            card_id=10_000_000 + n,
                            account_id=0,
                            serial=f"bench{n:08d}",
                            tag=10**9,
                            modified_at=now,
                            created_at=now,
                        )
                        for n in range(start, min(passes, start + 500))
                    ]
                )
            for start in range(0, args.devices, 500):
                await PassRegistration.insert(
                    *[
                        PassRegistration(
                            key=f"dev{n:08d}:bench{n // 2:08d}",
                            device_id=f"dev{n:08d}",
                            serial=f"bench{n // 2:08d}",
                            push_token=f"tok{n:08d}",
                            pushed_tag=0,
                            push_due=True,  # behind its pass, as a refresh leaves it
                            created_at=now,
                        )
                        for n in range(start, min(args.devices, start + 500))
                    ]
                )
        async with db.write_transaction():
            await queue_push()
        standin.pushes.clear()
        started = time.perf_counter()
        await worker.run_until_idle(max_rounds=10_000)
        elapsed = time.perf_counter() - started
        received = len([p for p in standin.pushes if p.token.startswith("tok")])
        service_rate = received / elapsed
        print(f"service: {received} pushes in {elapsed:.2f} s = {service_rate:.0f} pushes/s")

        bare_rate = await _bare_client_rate(standin.url, certs, args.devices)
        print(f"bare HTTP/2 client, same stand-in: {bare_rate:.0f} pushes/s")
        print(
            f"service / bare = {service_rate / bare_rate:.2f} (target >= 0.5); "
            f"database {'SQLite' if db.is_sqlite() else 'PostgreSQL'}"
        )
        await apns.close_all()
        await runtime.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--receipts", type=int, default=1000)
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between receipts")
    parser.add_argument("--database-url", default="", help="default: a scratch SQLite file")
    asyncio.run(main(parser.parse_args()))
