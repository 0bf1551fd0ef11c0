"""The operator's side of the web app: ``/metrics`` for Prometheus, the request id on every
request, and the worker lag ``/ready`` checks.

``/metrics`` is not part of the public API (not in the manual): it answers an admin key or
the ``WALLET_METRICS_TOKEN`` bearer (for Prometheus, which should hold no admin key), and
401/403 to anyone else. Request latency comes from Litestar's Prometheus middleware by
route template (``/api/v1/pos/cards/{number:str}``, never the raw path: the card number
would make a series per card); the outbox and pool gauges are read when Prometheus scrapes.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Controller, Response, get
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from piccolo.engine.postgres import PostgresEngine
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)

from wallet import clock, codes, db, observe
from wallet import settings as settings_module
from wallet.auth.service import authenticate
from wallet.errors import Forbidden, Unauthorized
from wallet.platform import service as platform

# Read at scrape time: the same for every process (they read one database), so in
# multiprocess mode the most recent scrape's value is the one to show.
OUTBOX_JOBS = Gauge(
    "wallet_outbox_jobs",
    "Outbox jobs not done, by kind and status (pending, running, dead)",
    ["kind", "status"],
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST = Gauge(
    "wallet_outbox_oldest_due_age_seconds",
    "How long the oldest due job of the kind has waited for a worker (0: none waiting)",
    ["kind"],
    multiprocess_mode="mostrecent",
)
DB_POOL = Gauge(
    "wallet_db_pool_connections",
    "This process's PostgreSQL pool: max (the setting), open and idle connections",
    ["state"],
    multiprocess_mode="liveall",
)


def prometheus_config() -> PrometheusConfig:
    """Request count and latency (``wallet_http_request_duration_seconds``) by method,
    route template and status."""
    return PrometheusConfig(
        app_name="wallet",
        prefix="wallet_http",
        group_path=True,
        exclude=["^/metrics$"],
        buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    )


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Take ``X-Request-Id`` (or make one), log the request under it, pass it to the jobs
    the request queues, and send it back in the reply's ``X-Request-Id``."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        raw = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                raw = value.decode("latin-1")
                break
        rid = observe.request_id_from(raw)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Request-Id"] = rid
            await send(message)

        with observe.request_id(rid):
            await app(scope, receive, send_with_id)

    return middleware


async def metrics_reader(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """An admin key, or the metrics token (compared in constant time, as hashes so the
    length does not show either)."""
    scheme, _sep, secret = connection.headers.get("authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized("send Authorization: Bearer <admin key or WALLET_METRICS_TOKEN>")
    token = settings_module.get().metrics_token
    if token and codes.same_secret(codes.sha256_hex(secret), codes.sha256_hex(token)):
        return
    principal = await authenticate(secret)
    if principal.role != "admin":
        raise Forbidden(
            f"a {principal.role} key may not read metrics; use an admin key or "
            "WALLET_METRICS_TOKEN",
            {"role": principal.role, "allowed": ["admin"]},
        )


async def refresh_gauges() -> None:
    """Outbox depth and lag (one statement) and this process's pool, as of now."""
    now = clock.now()
    rows = await platform.outbox_backlog(now)
    OUTBOX_JOBS.clear()
    OUTBOX_OLDEST.clear()
    oldest: dict[str, float] = {}
    for row in rows:
        OUTBOX_JOBS.labels(row["kind"], row["status"]).set(row["n"])
        wait = 0.0
        if row["oldest_due"] is not None:
            wait = max(0.0, (now - row["oldest_due"]).total_seconds())
        oldest[row["kind"]] = max(oldest.get(row["kind"], 0.0), wait)
    for kind, wait in oldest.items():
        OUTBOX_OLDEST.labels(kind).set(wait)
    eng = db.engine()
    pool = eng.pool if isinstance(eng, PostgresEngine) else None
    if pool is not None:
        DB_POOL.labels("max").set(pool.get_max_size())
        DB_POOL.labels("open").set(pool.get_size())
        DB_POOL.labels("idle").set(pool.get_idle_size())


def exposition() -> bytes:
    """The text Prometheus reads: this process's metrics, or every process's when
    ``PROMETHEUS_MULTIPROC_DIR`` is set (prometheus-client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


class MetricsController(Controller):
    path = "/metrics"
    include_in_schema = False
    guards = [metrics_reader]

    @get(media_type=CONTENT_TYPE_LATEST, cache_control=None)
    async def metrics(self) -> Response[bytes]:
        await refresh_gauges()
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


async def worker_lagging() -> float | None:
    """Seconds the oldest due job has waited, when that is over
    ``WALLET_READY_MAX_LAG_SECONDS`` (the worker is down or cannot keep up); else None."""
    lag = await platform.worker_lag(clock.now())
    return lag if lag > settings_module.get().ready_max_lag_seconds else None
