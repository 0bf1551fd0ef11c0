"""``/metrics``, the request id and ``/ready``'s worker lag, through HTTP on SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from tests.support.shop import Shop, bearer, line, make_key
from wallet import clock, db, observe
from wallet import settings as settings_module
from wallet.platform import service as platform
from wallet.platform import worker


async def scrape(client, key: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reply = await client.get("/metrics", headers=bearer(key))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_answer_only_an_admin_key_or_the_metrics_token(client):
    shop = await Shop.open(client)
    assert (await client.get("/metrics")).status_code == 401
    refused = await client.get("/metrics", headers=bearer(shop.pos_key))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert (await client.get("/metrics", headers=bearer(shop.support_key))).status_code == 403
    assert (await client.get("/metrics", headers=bearer("not-the-token"))).status_code == 401
    assert (await client.get("/metrics", headers=bearer(shop.admin_key))).status_code == 200

    settings_module.override(
        dataclasses.replace(settings_module.get(), metrics_token="prom-scrape-token-0123456789")
    )
    by_token = await client.get("/metrics", headers=bearer("prom-scrape-token-0123456789"))
    assert by_token.status_code == 200 and "wallet_receipts_posted_total" in by_token.text
    assert (await client.get("/metrics", headers=bearer("prom-scrape-token-x"))).status_code == 401
    # Not in the public manual.
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_requests_are_timed_by_route_template_and_receipts_counted(client):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    before = await scrape(client, shop.admin_key)
    at = clock.now() - timedelta(seconds=5)
    await shop.receipt(shopper.card, "R1", [line(100_000)], at=at)
    await shop.receipt(shopper.card, "R1", [line(100_000)], at=at)  # a till's retry
    identified = await client.get(f"/api/v1/pos/cards/{shopper.card}", headers=bearer(shop.pos_key))
    assert identified.status_code == 200
    returned = await client.post(
        "/api/v1/pos/receipts/R1/returns",
        json={"return_id": "RET-1", "occurred_at": clock.now().isoformat()},
        headers=bearer(shop.pos_key),
    )
    assert returned.status_code == 201, returned.text
    after_reply = await client.get("/metrics", headers=bearer(shop.admin_key))
    after = await scrape(client, shop.admin_key)

    assert (
        value(after, "wallet_receipts_posted_total") - value(before, "wallet_receipts_posted_total")
        == 1
    )
    assert (
        value(after, "wallet_returns_posted_total") - value(before, "wallet_returns_posted_total")
        == 1
    )
    route = {"app_name": "wallet", "method": "GET", "status_code": "200"}
    template = "/api/v1/pos/cards/{number}"
    assert value(after, "wallet_http_request_duration_seconds_count", path=template, **route) >= 1
    posted = {"app_name": "wallet", "method": "POST", "path": "/api/v1/pos/receipts"}
    assert (
        value(after, "wallet_http_request_duration_seconds_count", status_code="201", **posted)
        - value(before, "wallet_http_request_duration_seconds_count", status_code="201", **posted)
        == 2
    )
    # The card number never becomes a label (one series per card would swamp Prometheus).
    assert shopper.card not in after_reply.text


async def test_outbox_depth_and_lag_by_kind_and_the_pool_are_read_at_scrape_time(client, database):
    shop = await Shop.open(client)
    now = clock.now()
    async with db.write_transaction():
        await platform.enqueue(kind="probe", payload={}, due_at=now - timedelta(seconds=600))
        await platform.enqueue(kind="probe", payload={}, due_at=now - timedelta(seconds=5))
        await platform.enqueue(kind="later", payload={}, due_at=now + timedelta(hours=1))
    samples = await scrape(client, shop.admin_key)
    assert value(samples, "wallet_outbox_jobs", kind="probe", status="pending") == 2
    assert value(samples, "wallet_outbox_jobs", kind="later", status="pending") == 1
    assert 600 <= value(samples, "wallet_outbox_oldest_due_age_seconds", kind="probe") < 700
    assert ("wallet_outbox_oldest_due_age_seconds", frozenset({("kind", "later")})) in samples
    assert value(samples, "wallet_outbox_oldest_due_age_seconds", kind="later") == 0
    if database.kind == "postgres":
        assert value(samples, "wallet_db_pool_connections", state="max") >= 1
        assert value(samples, "wallet_db_pool_connections", state="open") >= 1


async def test_deliveries_and_smtp_latency_are_counted(client, smtp_sink):
    shop = await Shop.open(client)
    before = await scrape(client, shop.admin_key)
    from wallet.mail import service as mail

    async with db.write_transaction():
        await mail.queue_email(
            to="metrics@example.ru", template="signin_code", lang="ru", context={"code": "123456"}
        )
    await worker.run_until_idle()
    after = await scrape(client, shop.admin_key)
    sent = {"channel": "email", "outcome": "sent", "reason": ""}
    assert value(after, "wallet_deliveries_total", **sent) - value(
        before, "wallet_deliveries_total", **sent
    ) == len(smtp_sink.messages)
    assert len(smtp_sink.messages) == 1
    assert value(after, "wallet_upstream_request_duration_seconds_count", service="smtp") > value(
        before, "wallet_upstream_request_duration_seconds_count", service="smtp"
    )


async def test_ready_fails_while_the_worker_lags_and_recovers_when_it_catches_up(client):
    assert (await client.get("/ready")).json() == {"status": "ready"}
    limit = settings_module.get().ready_max_lag_seconds
    async with db.write_transaction():
        await platform.enqueue(
            kind="probe", payload={}, due_at=clock.now() - timedelta(seconds=limit + 30)
        )
    lagging = await client.get("/ready")
    assert lagging.status_code == 503
    assert "worker lagging" in lagging.json()["status"]
    assert "WALLET_READY_MAX_LAG_SECONDS" in lagging.json()["status"]
    # A job due a moment ago is normal work, not lag.
    await db.raw("DELETE FROM outbox_job")
    async with db.write_transaction():
        await platform.enqueue(kind="probe", payload={}, due_at=clock.now() - timedelta(seconds=5))
    assert (await client.get("/ready")).status_code == 200
    # The worker ran it (no handler: dead, for the operator): nothing waits, ready again.
    await db.raw("DELETE FROM outbox_job")
    async with db.write_transaction():
        await platform.enqueue(
            kind="probe", payload={}, due_at=clock.now() - timedelta(seconds=limit + 30)
        )
    await worker.run_until_idle()
    assert (await client.get("/ready")).status_code == 200


async def test_the_request_id_is_echoed_and_follows_a_receipt_into_its_jobs(client, caplog):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    await worker.run_until_idle()
    await db.raw("DELETE FROM outbox_job")
    reply = await client.post(
        "/api/v1/pos/receipts",
        json={
            "receipt_id": "R-trace",
            "card_number": shopper.card,
            "occurred_at": (clock.now() - timedelta(seconds=1)).isoformat(),
            "lines": [line(100_000)],
            "redeem_points": 0,
        },
        headers={**bearer(shop.pos_key), "X-Request-Id": "till-7-000123"},
    )
    assert reply.status_code == 201, reply.text
    assert reply.headers["x-request-id"] == "till-7-000123"
    jobs = await db.raw("SELECT kind, payload FROM outbox_job")
    assert jobs, "a receipt queues its pass update"
    for job in jobs:
        payload = job["payload"] if isinstance(job["payload"], dict) else json.loads(job["payload"])
        assert payload[observe.PAYLOAD_KEY] == "till-7-000123", job

    # The worker logs the job's run under the request's id (a job that fails says so).
    with observe.request_id("till-7-000123"):
        async with db.write_transaction():
            await platform.enqueue(kind="probe", payload={})
    with caplog.at_level(logging.DEBUG, logger="wallet"):
        await worker.run_until_idle()
    traced = [r for r in caplog.records if getattr(r, "request_id", None) == "till-7-000123"]
    assert any("no handler for kind 'probe'" in r.getMessage() for r in traced), [
        (r.getMessage(), getattr(r, "request_id", None)) for r in caplog.records
    ]

    # No id, or one that is not a plain id (it would forge log lines): a fresh one.
    fresh = await client.get("/health")
    assert len(fresh.headers["x-request-id"]) == 32
    forged = await client.get("/health", headers={"X-Request-Id": "a b\tinjected=1"})
    assert forged.headers["x-request-id"] != "a b\tinjected=1"
    assert len(forged.headers["x-request-id"]) == 32


async def test_a_key_made_for_metrics_alone_is_not_a_way_in_elsewhere(client):
    """The metrics token reads metrics and nothing else."""
    settings_module.override(
        dataclasses.replace(settings_module.get(), metrics_token="prom-scrape-token-0123456789")
    )
    await make_key("admin")
    reply = await client.get("/api/v1/admin/keys", headers=bearer("prom-scrape-token-0123456789"))
    assert reply.status_code == 401


def test_a_standalone_worker_serves_its_own_metrics_on_the_metrics_port(database, certs_dir):
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from tests.conftest import ROOT

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "WALLET_DATABASE_URL": database.url,
        "WALLET_CERTS_DIR": str(certs_dir),
        "WALLET_METRICS_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "wallet", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert reply.status_code == 200
        assert "wallet_deliveries_total" in reply.text
        assert "wallet_upstream_request_duration_seconds" in reply.text
    finally:
        process.terminate()
        process.wait(20)
