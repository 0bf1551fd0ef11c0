"""Every hand-written statement of the webhooks domain, named (``$n`` placeholders; see
``db.sql``)."""

from __future__ import annotations

from wallet import db

INSERT_ENDPOINT = db.sql(
    "INSERT INTO webhook_endpoint (url, events, secret, status, disabled_reason, failures, "
    "failing_since, created_by, created_at) VALUES ($1, $2, $3, 'active', '', 0, NULL, $4, $5) "
    "RETURNING id"
)
_ENDPOINT_COLUMNS = (
    "SELECT id, url, events, status, disabled_reason, failures, failing_since, created_by, "
    "created_at FROM webhook_endpoint"
)
ENDPOINT = db.sql(
    _ENDPOINT_COLUMNS + " WHERE id = $1",
    events=db.json_value,
    failing_since=db.timestamp,
    created_at=db.timestamp,
)
ENDPOINTS = db.sql(
    _ENDPOINT_COLUMNS + " ORDER BY id",
    events=db.json_value,
    failing_since=db.timestamp,
    created_at=db.timestamp,
)
ACTIVE_ENDPOINTS = db.sql(
    "SELECT id, events FROM webhook_endpoint WHERE status = 'active'", events=db.json_value
)
"""Who listens, read in the event's transaction (a few rows: one per registered system)."""

ENDPOINT_FOR_SENDING = db.sql("SELECT id, url, secret, status FROM webhook_endpoint WHERE id = $1")
SET_STATUS = db.sql(
    "UPDATE webhook_endpoint SET status = $2, disabled_reason = $3, failures = 0, "
    "failing_since = NULL WHERE id = $1 RETURNING id"
)

INSERT_DELIVERY = db.sql(
    "INSERT INTO webhook_delivery (endpoint_id, event_id, event_type, account_id, body, "
    "status, attempts, next_attempt_at, lease_until, last_status, last_error, replay_of, "
    "created_at, delivered_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, NULL, NULL, '', "
    "$7, $6, NULL) RETURNING id"
)

HEAD = db.sql(
    "SELECT id, event_id, event_type, body, status, attempts, next_attempt_at, lease_until, "
    "created_at FROM webhook_delivery WHERE endpoint_id = $1 AND account_id = $2 "
    "AND status IN ('pending', 'sending') ORDER BY id LIMIT 1",
    next_attempt_at=db.timestamp,
    lease_until=db.timestamp,
    created_at=db.timestamp,
)
"""The oldest delivery of one account's stream not yet done: only it may be sent, so the
receiver hears an account's events in the order they happened."""

CLAIM = db.sql(
    "UPDATE webhook_delivery SET status = 'sending', lease_until = $2, attempts = attempts + 1 "
    "WHERE id = $1 AND (status = 'pending' OR (status = 'sending' AND lease_until <= $3)) "
    "RETURNING id, attempts"
)
"""The head delivery leased to this worker; no row back when another worker holds it (on
PostgreSQL the second UPDATE waits for the first and then finds the status changed)."""

DELIVERED = db.sql(
    "UPDATE webhook_delivery SET status = 'delivered', lease_until = NULL, last_status = $2, "
    "last_error = '', delivered_at = $3 WHERE id = $1"
)
FAILED_ATTEMPT = db.sql(
    "UPDATE webhook_delivery SET status = $2, lease_until = NULL, last_status = $3, "
    "last_error = $4, next_attempt_at = $5 WHERE id = $1"
)
ENDPOINT_OK = db.sql("UPDATE webhook_endpoint SET failures = 0, failing_since = NULL WHERE id = $1")
ENDPOINT_FAILED = db.sql(
    "UPDATE webhook_endpoint SET failures = failures + 1, "
    "failing_since = COALESCE(failing_since, $2) WHERE id = $1 "
    "RETURNING failures, failing_since, status",
    failing_since=db.timestamp,
)
DISABLE = db.sql(
    "UPDATE webhook_endpoint SET status = 'disabled', disabled_reason = $2 "
    "WHERE id = $1 AND status = 'active' RETURNING id, url"
)

PENDING_STREAMS = db.sql(
    "SELECT DISTINCT account_id FROM webhook_delivery WHERE endpoint_id = $1 "
    "AND status IN ('pending', 'sending')"
)

DELIVERY = db.sql(
    "SELECT id, endpoint_id, event_id, event_type, account_id, body FROM webhook_delivery "
    "WHERE id = $1 AND endpoint_id = $2"
)


def deliveries(
    endpoint_id: int, status: str | None, before_id: int | None, limit: int
) -> tuple[db.Sql, list[object]]:
    """The endpoint's delivery log, newest first."""
    p = db.Params(endpoint_id)
    where = "endpoint_id = $1"
    if status is not None:
        where += f" AND status = {p(status)}"
    if before_id is not None:
        where += f" AND id < {p(before_id)}"
    text = (
        "SELECT id, event_id, event_type, account_id, status, attempts, next_attempt_at, "
        "last_status, last_error, replay_of, created_at, delivered_at FROM webhook_delivery "
        f"WHERE {where} ORDER BY id DESC LIMIT {p(limit)}"
    )
    return (
        db.sql(
            text,
            next_attempt_at=db.timestamp,
            created_at=db.timestamp,
            delivered_at=db.timestamp,
        ),
        p.values,
    )
