"""What the PostgreSQL benches that seed a scratch database share: migrating it with
`wallet migrate`, timing a seeding statement, and the best of two runs of a measurement.
Imported by the bench scripts (run from the repository root, `bench/` is on the path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]


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
