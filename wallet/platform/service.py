"""Cross-cutting machinery: the outbox, idempotent replies and the audit trail.

All three write inside the caller's transaction, so they commit or roll back with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import clock, db
from wallet.errors import IdempotencyConflict
from wallet.platform.tables import AuditEvent, IdempotencyRecord


async def enqueue(
    *,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    due_at: datetime | None = None,
) -> None:
    """Record work for the worker; a waiting job with the same ``dedupe_key`` absorbs it."""
    now = clock.now()
    conflict = " ON CONFLICT (dedupe_key) DO NOTHING" if dedupe_key is not None else ""
    await db.fetch(
        "INSERT INTO outbox_job (kind, dedupe_key, payload, status, attempts, due_at, "
        f"last_error, created_at, updated_at) VALUES ($1, $2, $3, 'pending', 0, $4, '', $5, $5)"
        f"{conflict}",
        kind,
        dedupe_key,
        payload,
        due_at or now,
        now,
    )


async def enqueue_pass_update(account_id: int) -> None:
    """The passes of the account's cards must be rebuilt and pushed. Coalesced per account:
    ten receipts in a second leave one waiting job."""
    await enqueue(
        kind="pass_update",
        payload={"account_id": account_id},
        dedupe_key=f"pass:account:{account_id}",
    )


async def audit(*, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
    await AuditEvent.insert(
        AuditEvent(
            actor=actor, action=action, subject=subject, details=details, created_at=clock.now()
        )
    )


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
    return row["status_code"], _loads(row["response"])


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


def _loads(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def outbox_counts() -> dict[str, int]:
    rows = await db.raw("SELECT status, COUNT(*) AS n FROM outbox_job GROUP BY status")
    return {row["status"]: int(row["n"]) for row in rows}
