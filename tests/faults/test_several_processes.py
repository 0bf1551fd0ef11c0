"""Two web processes and two worker processes on one PostgreSQL, as production runs them:
shoppers join and tills post receipts through both web processes, a campaign is sent by
whichever worker claims each slice. Nobody gets the email twice, no job runs twice, and
every schedule slot fires once across the processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Database
from tests.faults.conftest import Mailbox, Workers, free_port
from tests.support.shop import Shop, bearer, iso, line, make_key
from wallet import clock, db

SHOPPERS = 40
CONSENTS = {
    "program": True,
    "personal_data": True,
    "terms_version": "2026-01",
    "marketing_email": True,
}


@pytest.fixture
def two_web_processes(
    database: Database, certs_dir: Path, tmp_path: Path, mailbox: Mailbox
) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WALLET_DATABASE_URL": database.url,
        "WALLET_EMBEDDED_WORKER": "false",
        "WALLET_CERTS_DIR": str(certs_dir),
        "WALLET_LOG_LEVEL": "WARNING",
        "WALLET_DB_POOL_SIZE": "4",
        "WALLET_ENROL_LIMIT_PER_IP": "0",
        "WALLET_SMTP_HOST": "127.0.0.1",
        "WALLET_SMTP_PORT": str(mailbox.port),
    }
    processes, bases = [], []
    for n in range(2):
        port = free_port()
        log = (tmp_path / f"web-{n}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "wallet", "serve", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for process, base in zip(processes, bases, strict=True):
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_two_web_and_two_worker_processes_do_each_thing_once(
    client, mailbox: Mailbox, workers: Workers, two_web_processes: list[str]
):
    shop = await Shop.open(client)  # keys and the store, in the shared database
    marketer = await make_key("marketer")
    for _ in range(2):
        workers.start()
    webs = [httpx.AsyncClient(base_url=base, timeout=30) for base in two_web_processes]
    try:
        addresses = [f"multi{n}@example.ru" for n in range(SHOPPERS)]

        async def join_and_buy(n: int) -> None:
            web = webs[n % 2]
            reply = await web.post(
                "/api/v1/cards",
                json={"name": f"Покупатель {n}", "email": addresses[n], "consents": CONSENTS},
            )
            assert reply.status_code == 201, reply.text
            card = reply.json()["card_number"]
            for k in range(2):  # the other web process takes the till's second receipt
                receipt = await webs[(n + k) % 2].post(
                    "/api/v1/pos/receipts",
                    json={
                        "receipt_id": f"M{n}-{k}",
                        "card_number": card,
                        "occurred_at": iso(clock.now()),
                        "lines": [line(10_000)],
                    },
                    headers=bearer(shop.pos_key),
                )
                assert receipt.status_code == 201, receipt.text

        await asyncio.gather(*(join_and_buy(n) for n in range(SHOPPERS)))
        created = await webs[0].post(
            "/api/v1/admin/campaigns",
            json={"name": "Для всех", "subject": "{{ name }}", "body": "Скидки.", "email_rate": 50},
            headers=bearer(marketer),
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        sent = await webs[1].post(
            f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(marketer)
        )
        assert sent.status_code == 200, sent.text

        deadline = time.monotonic() + 120
        while True:
            status = (
                await webs[0].get(
                    f"/api/v1/admin/campaigns/{campaign_id}", headers=bearer(marketer)
                )
            ).json()
            if status["status"] == "sent" and mailbox.count() >= SHOPPERS:
                break
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.3)
        # Let the pass updates and pushes the receipts queued drain as well.
        while await db.fetch(
            "SELECT id FROM outbox_job WHERE status IN ('pending', 'running') AND due_at <= $1",
            clock.now(),
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.3)
    finally:
        for web in webs:
            await web.aclose()

    assert sorted(mailbox.per_address().items()) == sorted((a, 1) for a in addresses)
    [figures] = status["figures"]
    assert figures["sent"] == SHOPPERS and figures["maybe_twice"] == 0
    receipts = await db.fetch("SELECT external_id FROM receipt")
    assert len(receipts) == len({r["external_id"] for r in receipts}) == 2 * SHOPPERS
    # No job ran twice: every finished job was claimed once.
    twice = await db.fetch("SELECT id, kind, attempts FROM outbox_job WHERE attempts > 1")
    assert twice == [], twice
    # Each schedule slot fired once across both workers.
    fired = await db.fetch(
        "SELECT kind, payload::jsonb ->> 'slot' AS slot, COUNT(*) AS n FROM outbox_job "
        "WHERE payload::jsonb ? 'slot' GROUP BY 1, 2"
    )
    assert fired and all(int(row["n"]) == 1 for row in fired), fired
    # Both workers did some of it.
    for n in range(2):
        assert "worker started" in workers.log_of(n)
