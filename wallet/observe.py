"""What the service tells its operator: the request id that follows a request into the
outbox jobs it queues, the log format (text or JSON), and the Prometheus metrics each
process keeps.

The request id lives in a context variable: the web middleware sets it from
``X-Request-Id`` (or makes one), ``platform.enqueue`` copies it into the job's payload and
the worker sets it again while it runs the job, so one id finds a receipt's request, its
pass push and its email in the logs. Every log record carries it (a record factory, so
records of any logger and thread have it).

Metrics are module-level objects of ``prometheus_client``'s default registry: one set per
process (see the README, "Metrics and logs"). Labels are bounded sets: a route template,
never a raw path; a reason code, never a message.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

REQUEST_ID: ContextVar[str | None] = ContextVar("wallet_request_id", default=None)
# The outbox payload key that carries the id from the request to its jobs.
PAYLOAD_KEY = "_request_id"
# A caller's own id is kept when it looks like an id (a proxy's, a till's); anything else
# (too long, spaces, control characters that would forge log lines) is replaced.
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(raw: str | None) -> str:
    """The caller's ``X-Request-Id`` if it is a plain id, otherwise a new one."""
    if raw and _GOOD_ID.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


@contextmanager
def request_id(value: str | None) -> Iterator[None]:
    """Log under ``value`` (a job run by the worker, a request) until the block ends."""
    token = REQUEST_ID.set(value)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


# --- logs -------------------------------------------------------------------------------

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"

_base_factory = logging.getLogRecordFactory()


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    rid = REQUEST_ID.get()
    record.request_id = rid
    record.request_tag = f" [{rid}]" if rid else ""
    return record


def install_record_factory() -> None:
    """Every log record made from now on carries the current request id (idempotent)."""
    if logging.getLogRecordFactory() is not _record_factory:
        logging.setLogRecordFactory(_record_factory)


install_record_factory()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, and the
    exception's traceback when there is one. Log collectors parse it without a pattern."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter_config(log_format: str) -> dict[str, Any]:
    """The ``logging.config`` formatter for ``WALLET_LOG_FORMAT`` (``text`` or ``json``)."""
    if log_format == "json":
        return {"()": JsonFormatter}
    return {"format": TEXT_FORMAT}


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


# --- metrics ----------------------------------------------------------------------------

RECEIPTS = Counter("wallet_receipts_posted_total", "Receipts posted by tills (new ones only)")
RETURNS = Counter("wallet_returns_posted_total", "Returns posted by tills (new ones only)")

DELIVERIES = Counter(
    "wallet_deliveries_total",
    "Messages handed to a channel: outcome sent or failed, with a short reason code",
    ["channel", "outcome", "reason"],
)

# Outside services answer in milliseconds to seconds; the buckets cover a slow 10 s.
UPSTREAM_SECONDS = Histogram(
    "wallet_upstream_request_duration_seconds",
    "Time of one call to an outside service (apns, google, smtp, koshelek, smsc)",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def delivered(channel: str, outcome: str, reason: str = "", count: int = 1) -> None:
    """Count ``count`` messages on ``channel`` (email, apns, google, koshelek, sms): ``outcome``
    sent or failed; ``reason`` a short code (an HTTP status, ``refused``, ``unreachable``)."""
    DELIVERIES.labels(channel, outcome, reason[:40]).inc(count)


@contextmanager
def timed(service: str) -> Iterator[None]:
    """Observe how long the block's call to ``service`` took (failed calls too)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        UPSTREAM_SECONDS.labels(service).observe(time.perf_counter() - started)
