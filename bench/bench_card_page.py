"""The shopper's card page: its weight and its server time, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_card_page.py [--requests 500] [--database both|sqlite|postgres]

For each database: a scratch database migrated with `wallet migrate`, a store, a shopper
who joined through the page (so the session cookie is real), 60 receipts and a family
card, then GET /card --requests times through the app in this process (httpx's ASGI
transport: no socket, so the time is the server's own: session lookup, member, ledger
summary, cards, rules, QR and template). Prints median / p95 / max in ms and the page's
bytes (targets: median < 20 ms, page < 100 KB with its QR).

PostgreSQL is at WALLET_BENCH_POSTGRES_URL (default the tests' postgresql://postgres@
127.0.0.1:5432/test); a scratch database is made next to it and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
PG = os.environ.get(
    "WALLET_BENCH_POSTGRES_URL",
    os.environ.get("WALLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)


def migrate(url: str, certs: Path) -> None:
    env = {**os.environ, "WALLET_DATABASE_URL": url, "WALLET_CERTS_DIR": str(certs)}
    done = subprocess.run(
        [PY, "-m", "wallet", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"migrate failed on {url}: {done.stderr[-2000:]}")


async def measure(url: str, certs: Path, requests: int) -> tuple[list[float], int]:
    import httpx

    from wallet import clock, db, wiring
    from wallet import settings as settings_module
    from wallet.app import create_app
    from wallet.auth import service as auth
    from wallet.stores import service as stores
    from wallet.stores.schemas import StoreIn

    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings_module.override(
        settings_module.Settings(
            database_url=url, certs_dir=certs, embedded_worker=False, log_level="WARNING"
        )
    )
    runtime = contextlib.AsyncExitStack()
    await runtime.enter_async_context(wiring.running(settings_module.get()))
    try:
        async with db.write_transaction():
            await stores.create_store(
                StoreIn(code="MSK-001", name="Тверская, 12", latitude=55.76, longitude=37.6)
            )
            pos_key, _ = await auth.create_key(
                role="pos", store_code="MSK-001", name="bench", now=clock.now()
            )
        transport = httpx.ASGITransport(app=create_app(manage_db=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as http:
            form = await http.get("/join")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
            joined = await http.post(
                "/join",
                data={
                    "csrf": csrf,
                    "name": "Анна Смирнова",
                    "email": f"anna.{secrets.token_hex(3)}@example.ru",
                    "consent_program": "1",
                    "consent_data": "1",
                },
            )
            assert joined.status_code == 303, joined.text
            page = await http.get("/card")
            number = re.search(r'id="card-number">([\d ]+)<', page.text).group(1).replace(" ", "")  # type: ignore[union-attr]
            start = clock.now() - timedelta(days=100)
            for index in range(60):
                reply = await http.post(
                    "/api/v1/pos/receipts",
                    json={
                        "receipt_id": f"R{index}",
                        "card_number": number,
                        "occurred_at": (start + timedelta(days=index)).isoformat(),
                        "lines": [
                            {"sku": "A", "category": "grocery", "quantity": 1, "amount": 150_000}
                        ],
                        "redeem_points": 20 if index % 5 == 4 else 0,
                    },
                    headers={"Authorization": f"Bearer {pos_key}"},
                )
                assert reply.status_code == 201, reply.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            added = await http.post("/card/family", data={"csrf": csrf, "holder_name": "Пётр"})
            assert added.status_code == 303
            for _ in range(50):  # warm caches (rules, QR, templates, pool)
                await http.get("/card")
            times = []
            size = 0
            for _ in range(requests):
                began = time.perf_counter()
                reply = await http.get("/card")
                times.append((time.perf_counter() - began) * 1000)
                size = len(reply.content)
                assert reply.status_code == 200
        return times, size
    finally:
        await runtime.aclose()


async def run(kind: str, requests: int, tmp: Path) -> None:
    import asyncpg

    from passes.devcerts import make_dev_certs

    certs = tmp / "certs"
    if not certs.exists():
        make_dev_certs(certs, pass_type_id="pass.ru.example.loyalty", team_id="DEVTEAM123")
    admin = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    else:
        name = f"wallet_bench_{os.getpid()}"
        admin = await asyncpg.connect(PG)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url, certs)
        times, size = await measure(url, certs, requests)
    finally:
        if admin is not None:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
    times.sort()
    print(
        f"{kind:8s} GET /card x{requests}: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(len(times) * 0.95)]:.2f} ms, max {times[-1]:.2f} ms; "
        f"page {size / 1024:.1f} KB (targets: median < 20 ms, page < 100 KB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database", choices=["both", "sqlite", "postgres"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            asyncio.run(run(kind, args.requests, Path(folder)))


if __name__ == "__main__":
    main()
