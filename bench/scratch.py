"""What the PostgreSQL benches that seed a scratch database share: the database itself
(made, migrated, the service's runtime bound to it, dropped unless kept), migrating it
with `wallet migrate`, timing a seeding statement, and the best of two runs of a
measurement.
Imported by the bench scripts (run from the repository root, `bench/` is on the path)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
BASE_URL = os.environ.get("WALLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.asynccontextmanager
async def database(
    prefix: str = "wallet_bench", *, reuse: str | None = None, keep: bool = False
) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A scratch database next to ``BASE_URL``'s (``reuse``: one kept by an earlier run),
    migrated, with the service's runtime bound to it (settings, pool, caches), and a
    connection to seed and measure with: (name, connection). Dropped at the end unless
    ``keep`` or ``reuse``."""
    name = reuse or f"{prefix}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(BASE_URL)
    if not reuse:
        await admin.execute(f'CREATE DATABASE "{name}"')
    url = BASE_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["WALLET_DATABASE_URL"] = url
    try:
        migrate(url)
        from wallet import settings as settings_module
        from wallet import wiring

        settings = dataclasses.replace(settings_module.load(), database_url=url)
        settings_module.override(settings)
        async with wiring.running(settings):
            conn = await asyncpg.connect(url)
            try:
                yield name, conn
            finally:
                await conn.close()
    finally:
        if keep or reuse:
            print(f"kept {url}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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


async def step(conn: asyncpg.Connection, label: str, sql: str, *args: Any) -> None:
    """One seeding statement, printed with its time."""
    began = time.perf_counter()
    await conn.execute(sql, *args)
    print(f"  {label:<44} {time.perf_counter() - began:7.1f} s", flush=True)


async def best(run: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """The best of two runs, and what the last returned."""
    fastest, result = float("inf"), None
    for _ in range(2):
        began = time.perf_counter()
        result = await run()
        fastest = min(fastest, time.perf_counter() - began)
    return fastest, result
