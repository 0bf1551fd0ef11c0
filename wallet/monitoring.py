"""The operator's side of the web app: ``/metrics`` for Prometheus, the request id on every
request, and the worker lag ``/ready`` checks.

``/metrics`` is not part of the public API (not in the manual): it answers an admin key or
the ``WALLET_METRICS_TOKEN`` bearer (for Prometheus, which should hold no admin key), and
401/403 to anyone else. Request latency comes from ``middleware`` by
route template (``/api/v1/pos/cards/{number:str}``, never the raw path: the card number
would make a series per card); the outbox and pool gauges are read when Prometheus scrapes.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any, cast

from litestar import Controller, Response, get
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from piccolo.engine.postgres import PostgresEngine
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
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


# Request count and latency by method, route template and status, with the names and
# labels Litestar's Prometheus middleware used (dashboards keep working); kept by
# ``middleware`` below, which costs a till receipt a tenth of what that one did.
_HTTP_LABELS = ["method", "path", "status_code", "app_name"]
HTTP_REQUESTS = Counter("wallet_http_requests_total", "Total requests", _HTTP_LABELS)
HTTP_ERRORS = Counter(
    "wallet_http_requests_error_total", "Total errors in requests (5xx)", _HTTP_LABELS
)
HTTP_SECONDS = Histogram(
    "wallet_http_request_duration_seconds",
    "Request duration, in seconds",
    _HTTP_LABELS,
    buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
)
HTTP_IN_PROGRESS = Gauge(
    "wallet_http_requests_in_progress",
    "Total requests currently in progress",
    _HTTP_LABELS,
    multiprocess_mode="livesum",
)
APP_NAME = "wallet"
UNTIMED = frozenset({"/metrics"})


@functools.cache
def _finished(method: str, path: str, status: int) -> tuple[Any, Any, Any | None]:
    """The count and latency series of one (method, route, status), made once: a labelled
    child is looked up under a lock each time otherwise."""
    labels = (method, path, str(status), APP_NAME)
    error = HTTP_ERRORS.labels(*labels) if status >= 500 else None
    return HTTP_REQUESTS.labels(*labels), HTTP_SECONDS.labels(*labels), error


@functools.cache
def _in_progress(method: str, path: str) -> Any:
    return HTTP_IN_PROGRESS.labels(method, path, "200", APP_NAME)


def middleware(app: ASGIApp) -> ASGIApp:
    """Take ``X-Request-Id`` (or make one), log the request under it, pass it to the jobs
    the request queues, send it back in the reply's ``X-Request-Id``; count and time the
    request by its route template (``/api/v1/pos/cards/{number}``, never the card number:
    a series per card would swamp Prometheus). Runs after routing (a Litestar middleware),
    so an unmatched path is neither counted nor timed."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        raw = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                raw = value.decode("latin-1")
                break
        rid = observe.request_id_from(raw)
        status = 500  # what the client sees if the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["X-Request-Id"] = rid
            await send(message)

        path = scope["path"]
        if path in UNTIMED:
            with observe.request_id(rid):
                await app(scope, receive, send_with_id)
            return
        method = cast("HTTPScope", scope)["method"]
        template = scope.get("path_template", path)
        running = _in_progress(method, template)
        running.inc()
        started = time.perf_counter()
        try:
            with observe.request_id(rid):
                await app(scope, receive, send_with_id)
        finally:
            running.dec()
            count, seconds, error = _finished(method, template, status)
            count.inc()
            seconds.observe(time.perf_counter() - started)
            if error is not None:
                error.inc()

    return call


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
