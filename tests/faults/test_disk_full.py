"""The SQLite file's disk fills up under a till: writes answer a clear 503 (never a 500),
nothing committed is lost, and the till's retries after space is freed are applied once.
The disk is a real one: a 16 MB tmpfs filled with a file until a few pages are left."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _assert_ledger_agrees, _migrate
from tests.support.shop import Shop, bearer, iso, line
from wallet import clock, db, wiring
from wallet import settings as settings_module

RECEIPTS = 60


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB file system of its own (root mounts it; the suite runs as root)."""
    if os.geteuid() != 0:
        pytest.fail("this scenario mounts a 16 MB tmpfs: run the fault suite as root", False)
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


async def test_a_full_disk_answers_503_storage_full_and_loses_nothing_committed(
    certs_dir, tmp_path, small
):
    url = f"sqlite:///{small / 'wallet.sqlite3'}"
    _migrate(url, tmp_path)
    settings = settings_module.Settings(
        database_url=url, base_url="http://testserver.local", certs_dir=certs_dir
    )
    async with wiring.running(settings, engine=db.make_engine(url), owns_engine=True):
        from wallet.app import create_app

        transport = httpx.ASGITransport(app=create_app(manage_db=False))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver.local"
        ) as client:
            shop = await Shop.open(client)
            cards = [(await shop.enrol(f"Диск {n}")).card for n in range(3)]

            at = iso(clock.now())

            async def post(receipt_id: str) -> httpx.Response:
                # A till retries with the same body (same id, same time).
                return await client.post(
                    "/api/v1/pos/receipts",
                    json={
                        "receipt_id": receipt_id,
                        "card_number": cards[int(receipt_id[1:]) % len(cards)],
                        "occurred_at": at,
                        "lines": [line(10_000)],
                    },
                    headers=bearer(shop.pos_key),
                )

            first = await post("D0")
            assert first.status_code == 201, first.text
            # The disk full but for a few pages: the next writes run out of room.
            filler = small / "filler"
            with filler.open("wb") as out:
                out.write(b"\0" * (shutil.disk_usage(small).free - 24 * 1024))
            answers = {f"D{n}": await post(f"D{n}") for n in range(1, RECEIPTS)}

            statuses = sorted({reply.status_code for reply in answers.values()})
            assert set(statuses) <= {201, 503}, [
                r.text for r in answers.values() if r.status_code not in (201, 503)
            ][:2]
            refused = [rid for rid, reply in answers.items() if reply.status_code == 503]
            assert refused, "the disk never filled: the scenario proved nothing"
            reply = answers[refused[0]]
            assert reply.json()["code"] == "storage_full"
            assert int(reply.headers["Retry-After"]) > 0
            # Reads still work while writes cannot.
            assert (await client.get("/health")).status_code == 200

            # A write answered 503 left nothing behind.
            recorded = {r["external_id"] for r in await db.fetch("SELECT external_id FROM receipt")}
            assert not recorded & set(refused), sorted(recorded & set(refused))
            filler.unlink()  # the operator frees space; the tills retry
            for receipt_id in refused:
                again = await post(receipt_id)
                assert again.status_code == 201, again.text
            for receipt_id in answers:  # a retry of a recorded receipt changes nothing
                assert (await post(receipt_id)).status_code in (200, 201)

            rows = await db.fetch("SELECT external_id FROM receipt")
            assert sorted(r["external_id"] for r in rows) == sorted(
                f"D{n}" for n in range(RECEIPTS)
            )
            await _assert_ledger_agrees()
            print(
                f"\n{len(refused)} of {RECEIPTS - 1} receipts answered 503 storage_full "
                "while the disk was full; all recorded once after it was freed"
            )
