"""Every hand-written statement of the platform (outbox, audit, housekeeping), named
(``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import db

ENQUEUE = db.sql(
    "INSERT INTO outbox_job (kind, dedupe_key, payload, status, attempts, due_at, "
    "last_error, created_at, updated_at) VALUES ($1, $2, $3, 'pending', 0, $4, '', $5, $5)"
)
"""A job for the worker (the till's hot path: a prepared statement)."""

ENQUEUE_ONCE = db.sql(ENQUEUE.postgres + " ON CONFLICT (dedupe_key) DO NOTHING")
"""A job for the worker that a waiting job with the same dedupe key absorbs."""


def enqueue_set(jobs: str, p: db.Params, kind: str, now: datetime, *, sqlite: bool) -> str:
    """A job of ``kind`` for every row of the SELECT ``jobs`` (``dedupe_key``, ``payload``
    as JSON text; its arguments already in ``p``), due now, in one statement; a waiting job
    with the same key absorbs its row (``ENQUEUE_ONCE``). SQLite needs the ``WHERE true``:
    without it, ``ON CONFLICT`` after a SELECT parses as a join's ``ON``."""
    payload = "j.payload" if sqlite else "CAST(j.payload AS JSON)"
    return (
        "INSERT INTO outbox_job (kind, dedupe_key, payload, status, attempts, due_at, "
        f"last_error, created_at, updated_at) SELECT {p(kind)}, j.dedupe_key, {payload}, "
        f"'pending', 0, {p(now)}, '', {p(now)}, {p(now)} FROM ({jobs}) AS j WHERE true "
        "ON CONFLICT (dedupe_key) DO NOTHING"
    )


ENQUEUE_CLAIMED = db.sql(
    "INSERT INTO outbox_job (kind, dedupe_key, payload, status, attempts, due_at, "
    "last_error, created_at, updated_at) VALUES ($1, NULL, $2, 'running', 1, $3, '', $4, $4) "
    "RETURNING id"
)
"""A job claimed by the process that writes it, until ``$3`` (see ``worker.claim_at_birth``)."""

OUTBOX_COUNTS = db.sql("SELECT status, COUNT(*) AS n FROM outbox_job GROUP BY status")
"""Jobs per status, for the operator (health, ``wallet outbox``)."""

OUTBOX_BACKLOG = db.sql(
    "SELECT kind, status, COUNT(*) AS n, "
    "MIN(CASE WHEN status <> 'dead' AND due_at <= $1 THEN due_at END) AS oldest_due "
    "FROM outbox_job WHERE status IN ('pending', 'running', 'dead') GROUP BY kind, status",
    oldest_due=db.timestamp,
)
"""Jobs not done per kind and status, and the oldest one that is due and not done (a
``running`` job past its lease counts: its worker died): the metrics' outbox gauges and
``/ready``'s worker lag, in one statement."""


def delete_batch(table: str, where: str, batch: int) -> str:
    """``batch`` rows of ``table`` matching ``where`` (our own SQL, values bound as $n)
    deleted: housekeeping one short transaction at a time."""
    return (
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} "
        f"LIMIT {int(batch)}) RETURNING id"
    )


def claim_jobs(
    now: datetime, lease_until: datetime, limit: int, skip_kinds: list[str]
) -> tuple[db.Sql, list[Any]]:
    """Due jobs taken by this worker until ``lease_until``. On PostgreSQL the inner SELECT
    locks ``FOR UPDATE SKIP LOCKED``: two workers never claim the same job and neither
    waits for the other."""
    p = db.Params(lease_until, now, now)
    skip = f" AND kind NOT IN ({', '.join(p(kind) for kind in skip_kinds)})" if skip_kinds else ""
    text = (
        "UPDATE outbox_job SET status = 'running', attempts = attempts + 1, "
        "dedupe_key = NULL, due_at = $1, updated_at = $2 "
        "WHERE id IN (SELECT id FROM outbox_job "
        f"WHERE status IN ('pending', 'running') AND due_at <= $3{skip} "
        f"ORDER BY due_at, id LIMIT {p(limit)} {{lock}}) "
        "RETURNING id, kind, payload, attempts"
    )
    return db.sql(text, lock="FOR UPDATE SKIP LOCKED", payload=db.json_value), p.values


def renew_leases(ids: list[int], lease_until: datetime, now: datetime) -> tuple[str, list[Any]]:
    """The running jobs ``ids`` of a live worker held until ``lease_until`` (its heartbeat);
    a job already finished is left alone."""
    p = db.Params(lease_until, now)
    listed = ", ".join(p(i) for i in ids)
    return (
        "UPDATE outbox_job SET due_at = $1, updated_at = $2 "
        f"WHERE status = 'running' AND id IN ({listed})",
        p.values,
    )


def forget_jobs_naming(*, sqlite: bool) -> str:
    """Erasure: the jobs of kind $1 whose payload's $2 field is $3 (case folded), unless
    one is running right now: waiting ones never run, done or dead ones are forgotten."""
    field = "json_extract(payload, '$.' || $2)" if sqlite else "(payload::jsonb ->> $2)"
    return (
        f"DELETE FROM outbox_job WHERE kind = $1 AND status <> 'running' "
        f"AND lower({field}) = lower($3) RETURNING id"
    )
