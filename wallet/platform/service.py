"""Cross-cutting machinery: the outbox, idempotent replies and the audit trail.

All three write inside the caller's transaction, so they commit or roll back with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from wallet import clock, db, observe
from wallet import settings as settings_module
from wallet.errors import IdempotencyConflict
from wallet.platform import queries, worker
from wallet.platform.tables import AuditEvent, IdempotencyRecord


async def enqueue(
    *,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    due_at: datetime | None = None,
) -> None:
    """Record work for the worker; a waiting job with the same ``dedupe_key`` absorbs it.
    The current request id goes with the job, so the worker logs its run under it."""
    now = clock.now()
    request_id = observe.REQUEST_ID.get()
    if request_id is not None:
        payload = {**payload, observe.PAYLOAD_KEY: request_id}
    await db.fetch(
        queries.ENQUEUE if dedupe_key is None else queries.ENQUEUE_ONCE,
        kind,
        dedupe_key,
        payload,
        due_at or now,
        now,
    )
    if due_at is None or due_at <= now:
        db.after_commit(worker.wake)


async def enqueue_set(*, kind: str, jobs: str, args: Sequence[Any]) -> None:
    """``enqueue`` for a set-based writer: one job per row of the SELECT ``jobs`` (columns
    ``dedupe_key`` and ``payload``, JSON text; its arguments ``args`` are its ``$1..$n``),
    due now, in one statement in the caller's transaction, not a round trip per row."""
    p = db.Params(*args)
    text = queries.enqueue_set(jobs, p, kind, clock.now(), sqlite=db.is_sqlite())
    await db.fetch(text, *p.values)
    db.after_commit(worker.wake)


# Pass sync's ``outbox.queue_pass_update``, handed over when pass sync is imported: the
# layers below pass sync change accounts but cannot import it (it reads them), so this door
# lets them ask without the platform knowing pass sync's job kind.
_pass_updates: Callable[[int], Awaitable[None]] | None = None


def serve_pass_updates(queue: Callable[[int], Awaitable[None]]) -> None:
    global _pass_updates
    _pass_updates = queue


async def enqueue_pass_update(account_id: int) -> None:
    """The passes of the account's cards must be rebuilt and pushed, in the caller's
    transaction (pass sync's ``outbox.queue_pass_update``)."""
    if _pass_updates is None:
        raise RuntimeError(
            "pass updates cannot be queued: wallet.passsync was not imported in this process"
        )
    await _pass_updates(account_id)


async def audit(*, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
    await AuditEvent.insert(
        AuditEvent(
            actor=actor, action=action, subject=subject, details=details, created_at=clock.now()
        )
    )


async def forget_jobs_naming(kind: str, field: str, value: str) -> int:
    """Erasure: the jobs of ``kind`` whose payload's ``field`` is ``value`` (an address):
    waiting ones never run, done and dead ones no longer keep it; a running one finishes."""
    rows = await db.fetch(queries.forget_jobs_naming(sqlite=db.is_sqlite()), kind, field, value)
    return len(rows)


async def audit_many(*, actor: str, action: str, entries: list[tuple[str, dict[str, Any]]]) -> None:
    """Several audit events of one actor and action, (subject, details) each, in one
    statement."""
    now = clock.now()
    await AuditEvent.insert(
        *(
            AuditEvent(actor=actor, action=action, subject=subject, details=details, created_at=now)
            for subject, details in entries
        )
    )


async def audit_events(
    *,
    actions: list[str],
    subject: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Audit events of the given actions, newest first (who did what to whom, when)."""
    query = (
        AuditEvent.select(
            AuditEvent.id,
            AuditEvent.actor,
            AuditEvent.action,
            AuditEvent.subject,
            AuditEvent.details,
            AuditEvent.created_at,
        )
        .where(AuditEvent.action.is_in(actions))
        .order_by(AuditEvent.id, ascending=False)
        .limit(limit)
    )
    if subject is not None:
        query = query.where(AuditEvent.subject == subject)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    rows = await query
    for row in rows:
        row["details"] = db.json_value(row["details"])
    return rows  # type: ignore[no-any-return]


async def recall_reply(*, scope: str, key: str, request_hash: str) -> tuple[int, Any] | None:
    """The stored reply to an earlier write with this key, if any; 409 if the body differs."""
    row = (
        await IdempotencyRecord.select(
            IdempotencyRecord.request_hash,
            IdempotencyRecord.status_code,
            IdempotencyRecord.response,
        )
        .where(IdempotencyRecord.scope_key == f"{scope}:{key}")
        .first()
    )
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used for a different {scope} request; "
            "use a new key for a new request",
            {"idempotency_key": key},
        )
    return row["status_code"], db.json_value(row["response"])


async def remember_reply(
    *, scope: str, key: str, request_hash: str, status_code: int, response: Any
) -> None:
    await IdempotencyRecord.insert(
        IdempotencyRecord(
            scope_key=f"{scope}:{key}",
            request_hash=request_hash,
            status_code=status_code,
            response=response,
            created_at=clock.now(),
        )
    )


async def outbox_counts() -> dict[str, int]:
    rows = await db.fetch(queries.OUTBOX_COUNTS)
    return {row["status"]: int(row["n"]) for row in rows}


async def outbox_backlog(now: datetime) -> list[dict[str, Any]]:
    """Per kind and status (pending, running, dead): ``n`` jobs, and ``oldest_due`` the
    oldest due time of those waiting past it (None when none is due)."""
    return await db.fetch(queries.OUTBOX_BACKLOG, now)


async def worker_lag(now: datetime) -> float:
    """Seconds the oldest due job has waited for a worker (0: nothing is waiting)."""
    waits = [
        (now - row["oldest_due"]).total_seconds()
        for row in await outbox_backlog(now)
        if row["oldest_due"] is not None
    ]
    return max([0.0, *waits])


PRUNE_BATCH = 10_000
# A schedule slot names a period (a day, a month); none comes round again after a year.
SLOT_KEEP = timedelta(days=400)


async def prune(*, now: datetime) -> dict[str, int]:
    """Forget what serves nobody any more, ``PRUNE_BATCH`` rows a transaction: finished
    outbox jobs after ``WALLET_OUTBOX_KEEP_DAYS`` (failed ones stay for the operator),
    Idempotency-Key answers after ``WALLET_IDEMPOTENCY_KEEP_DAYS``, schedule slots after
    400 days. Every receipt leaves a finished pass-update job, so without this the outbox
    table only grows. Returns the rows removed per table."""
    cfg = settings_module.get()
    return {
        "outbox_job": await delete_in_batches(
            "outbox_job",
            "status = 'done' AND updated_at < $1",
            now - timedelta(days=cfg.outbox_keep_days),
        ),
        "idempotency_record": await delete_in_batches(
            "idempotency_record",
            "created_at < $1",
            now - timedelta(days=cfg.idempotency_keep_days),
        ),
        "schedule_slot": await delete_in_batches(
            "schedule_slot", "created_at < $1", now - SLOT_KEEP
        ),
    }


async def delete_in_batches(table: str, where: str, *args: Any) -> int:
    """``DELETE FROM table WHERE where`` a batch a transaction (``table`` and ``where`` are
    our own SQL; values are bound). Returns how many rows went."""
    removed = 0
    while True:
        async with db.write_transaction():
            rows = await db.fetch(queries.delete_batch(table, where, PRUNE_BATCH), *args)
        removed += len(rows)
        if len(rows) < PRUNE_BATCH:
            return removed
