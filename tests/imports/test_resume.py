"""An import killed mid-way (SIGKILL, no goodbye) keeps the batches it committed, and the
next run of the same file goes on after them: every member once, none twice."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.imports.support import members_file
from wallet import clock, db
from wallet.imports import service

ROWS = 10_000


async def _progress() -> dict | None:
    rows = await db.raw("SELECT status, lines_done, imported FROM import_run")
    return rows[0] if rows else None


async def test_a_killed_import_resumes_after_its_last_committed_batch(database, tmp_path: Path):
    data = members_file(ROWS)
    path = tmp_path / "members.csv"
    path.write_bytes(data)
    env = {**os.environ, "WALLET_DATABASE_URL": database.url, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "wallet", "import", "members", str(path), "--batch-rows", "50"],
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = await _progress()
            if found and found["lines_done"] > 0:
                break
            assert process.returncode is None, await process.communicate()
            await asyncio.sleep(0.02)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
    crashed = await _progress()
    assert crashed is not None and crashed["status"] == "running", "the import ended first"
    committed = await db.raw("SELECT COUNT(*) AS n FROM member")
    assert int(committed[0]["n"]) == crashed["imported"] < ROWS

    report = await service.run(
        "members", io.BytesIO(data), now=clock.now(), actor="test", batch_rows=1000
    )
    assert report.resumed_after_line >= crashed["lines_done"] > 0
    assert report.imported == ROWS
    counts = await db.raw("SELECT COUNT(*) AS n, COUNT(DISTINCT phone) AS phones FROM member")
    assert (int(counts[0]["n"]), int(counts[0]["phones"])) == (ROWS, ROWS)
    again = await service.run("members", io.BytesIO(data), now=clock.now(), actor="test")
    assert (again.imported, again.already_imported, again.resumed_after_line) == (0, ROWS, 0)
