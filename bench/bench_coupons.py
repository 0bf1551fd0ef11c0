"""A coupon batch of a million unique codes, on SQLite and PostgreSQL: POST
/api/v1/admin/promotions/{id}/coupons {"count": N} (from 20,000 codes it answers 202 and
the worker makes them in chunks: draw, hash, insert under the unique index, append the
CSV), the worker's run until the batch is ready, then the one download.

    PYTHONPATH=. .venv/bin/python bench/bench_coupons.py [--count 1000000] [--database both]

Baselines in the same run: drawing and hashing N codes alone (the part in Python), and the
former generator (one code at a time) timed on 100,000 codes and scaled to N. Target: the
request under 5 s for 1,000,000 codes (made inside the request it took 46-64 s here).
A scratch database is made next to WALLET_BENCH_POSTGRES_URL (default the tests'
postgresql://postgres@127.0.0.1:5432/test) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
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


def _old_code() -> str:
    """The former generator, one code at a time (the baseline)."""
    from wallet.promotions.coupons import ALPHABET, CODE_LENGTH

    bits = int.from_bytes(secrets.token_bytes(8), "big") >> 4
    raw = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def baselines(count: int) -> None:
    from wallet.promotions import coupons

    began = time.perf_counter()
    drawn = coupons.new_codes(count)
    hashed = {coupons.code_hash(code) for code in drawn}
    now = time.perf_counter() - began
    assert len(hashed) == count
    sample = 100_000
    began = time.perf_counter()
    for _ in range(sample):
        coupons.code_hash(_old_code())
    old = (time.perf_counter() - began) * count / sample
    print(f"draw + hash {count:,} codes in Python: {now:.2f} s (one code at a time: {old:.1f} s)")


async def measure(url: str, certs: Path, count: int) -> tuple[float, float, float, int]:
    import httpx

    from wallet import clock, db, wiring
    from wallet import settings as settings_module
    from wallet.app import create_app
    from wallet.auth import service as auth

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
            key, _ = await auth.create_key(
                role="admin", store_code=None, name="bench", now=clock.now()
            )
        headers = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=create_app(manage_db=False))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench.local", timeout=600
        ) as http:
            made = await http.post(
                "/api/v1/admin/promotions",
                json={
                    "name": "Промокод на 300 баллов",
                    "conditions": [{"kind": "coupon"}],
                    "effects": [{"kind": "receipt_bonus", "points": 300}],
                },
                headers=headers,
            )
            assert made.status_code == 201, made.text
            promotion_id = made.json()["id"]
            began = time.perf_counter()
            batch = await http.post(
                f"/api/v1/admin/promotions/{promotion_id}/coupons",
                json={"count": count},
                headers=headers,
            )
            create = time.perf_counter() - began
            assert batch.status_code in (201, 202), batch.text
            url = batch.json()["csv_url"]
            began = time.perf_counter()
            if batch.status_code == 202:
                from wallet.platform import worker

                await worker.run_until_idle()
                listed = await http.get(
                    f"/api/v1/admin/promotions/{promotion_id}/coupons", headers=headers
                )
                url = listed.json()[0]["csv_url"]
            made = time.perf_counter() - began
            began = time.perf_counter()
            file = await http.get(url, headers=headers)
            download = time.perf_counter() - began
            assert file.status_code == 200
            lines = file.text.count("\n") - 1
        return create, made, download, lines
    finally:
        await runtime.aclose()


async def run(kind: str, count: int, tmp: Path) -> None:
    import asyncpg

    from passes.devcerts import make_dev_certs

    certs = tmp / "certs"
    if not certs.exists():
        make_dev_certs(certs, pass_type_id="pass.ru.example.loyalty", team_id="DEVTEAM123")
    admin = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    else:
        name = f"wallet_bench_coupons_{os.getpid()}"
        admin = await asyncpg.connect(PG)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url, certs)
        create, made, download, lines = await measure(url, certs, count)
    finally:
        if admin is not None:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
    assert lines == count, lines
    print(
        f"{kind:8s} POST coupons count={count:,}: answered in {create:.2f} s (target < 5 s); "
        f"the worker made the codes in {made:.2f} s more; CSV download {download:.2f} s, "
        f"{lines:,} codes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["both", "sqlite", "postgres"], default="both")
    args = parser.parse_args()
    baselines(args.count)
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            asyncio.run(run(kind, args.count, Path(folder)))


if __name__ == "__main__":
    main()
