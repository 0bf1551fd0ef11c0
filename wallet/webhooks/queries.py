"""Every hand-written statement of the webhooks domain, named (``$n`` placeholders; see
``db.sql``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

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

# A version-4 UUID made by the database, one per event (the body's ``id``): PostgreSQL has
# one built in (13+); SQLite spells it from random bytes.
_NEW_EVENT_ID = {
    False: "gen_random_uuid()::text",
    True: "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
    "substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || "
    "substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))",
}
_NAME = re.compile(r"^[a-z_]+$")


def _endpoints(endpoint_ids: Sequence[int]) -> str:
    """The endpoints told, as a table of one column ``id`` (whole numbers of our own)."""
    return "(" + " UNION ALL ".join(f"SELECT {int(i)} AS id" for i in endpoint_ids) + ") AS e"


def insert_deliveries_set(
    rows: str,
    p: db.Params,
    *,
    endpoint_ids: Sequence[int],
    event_type: str,
    columns: Sequence[str],
    now: datetime,
    sqlite: bool,
) -> str:
    """One delivery per row of the SELECT ``rows`` (its arguments already in ``p``; column
    ``account_id`` and the whole-number ``columns`` that are the event's ``data``) and
    endpoint, with the body ``publish`` would write, built in SQL. The event ids are drawn
    once per row in a MATERIALIZED CTE, so every endpoint gets the same id for one event."""
    assert all(_NAME.match(name) for name in columns), columns
    data = " || ',' || ".join(f"'\"{name}\":' || ev.{name}" for name in columns)
    head = (
        f'\'{{"id":"\' || ev.event_id || \'","type":"\' || {p(event_type)} || '
        f'\'","created_at":"\' || {p(now.isoformat())} || \'","data":{{\''
    )
    at = p(now)
    return (
        f"WITH ev AS MATERIALIZED (SELECT {_NEW_EVENT_ID[sqlite]} AS event_id, r.* "
        f"FROM ({rows}) AS r) "
        "INSERT INTO webhook_delivery (endpoint_id, event_id, event_type, account_id, body, "
        "status, attempts, next_attempt_at, lease_until, last_status, last_error, replay_of, "
        f"created_at, delivered_at) SELECT e.id, ev.event_id, {p(event_type)}, ev.account_id, "
        f"{head} || {data} || '}}}}', 'pending', 0, {at}, NULL, NULL, '', NULL, {at}, NULL "
        f"FROM ev CROSS JOIN {_endpoints(endpoint_ids)} ORDER BY ev.account_id, e.id"
    )


def stream_jobs_set(rows: str, endpoint_ids: Sequence[int]) -> str:
    """The job of each (endpoint, account) stream of the SELECT ``rows``: its dedupe key
    (``service.stream_key``) and payload, for ``platform.enqueue_set``."""
    return (
        "SELECT 'webhook:' || e.id || ':' || r.account_id AS dedupe_key, "
        "'{\"endpoint_id\":' || e.id || ',\"account_id\":' || r.account_id || '}' AS payload "
        f"FROM ({rows}) AS r CROSS JOIN {_endpoints(endpoint_ids)}"
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
    "last_error = $4, next_attempt_at = $5 WHERE id = $1 AND status = 'sending'"
)
"""A failed attempt of the delivery this worker holds; one erased meanwhile (its body
gone) stays ``erased``, never waits for a retry."""
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

ERASE_DELIVERIES = db.sql(
    "UPDATE webhook_delivery SET body = '', "
    "status = CASE WHEN status IN ('pending', 'sending') THEN 'erased' ELSE status END, "
    "last_error = CASE WHEN status IN ('pending', 'sending') THEN $2 ELSE last_error END "
    "WHERE endpoint_id IN (SELECT id FROM webhook_endpoint) AND account_id = $1 "
    "AND body <> '' RETURNING status"
)
"""An erased shopper's deliveries to every endpoint, disabled ones too, in one statement:
every body emptied, delivered or not (what they said was the person's: ids, card numbers),
and those still waiting never sent. One in flight is ``erased`` too: its worker marks it
delivered if the receiver took it, never retries it. The endpoints (a few rows: one per
registered system) are there so both engines seek the stream index (endpoint, then
account) once per endpoint instead of reading every delivery for the account."""

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
