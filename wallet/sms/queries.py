"""Every hand-written statement of SMS, named (``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

import functools

from wallet import db

RECEIPTS_OF_TAG = db.sql(
    "SELECT status, COUNT(*) AS n, SUM(parts) AS parts FROM sms_message WHERE tag = $1 "
    "GROUP BY status"
)
"""Messages sent under one tag (a campaign) by status, with their parts."""


# What a chunk's INSERT returns: each row as the send job reads it (``to_send``), so the
# writer's job needs no read of its own rows.
_WRITTEN = "id, phone, text, status, kind, sender"


@functools.lru_cache(maxsize=16)
def insert_messages(rows: int) -> str:
    """SQLite: ``rows`` queued messages in one statement (a campaign's chunk): phone, text,
    parts each, then kind, sender, tag and created_at once for all; the rows back
    (``_WRITTEN``)."""
    n = rows * 3
    return (
        "INSERT INTO sms_message (phone, text, parts, kind, sender, tag, created_at, status) "
        f"SELECT column1, column2, column3, ${n + 1}, ${n + 2}, ${n + 3}, ${n + 4}, 'queued' "
        f"FROM (VALUES {db.rows(rows, 3)}) RETURNING {_WRITTEN}"
    )


INSERT_MESSAGES = db.sql(
    "INSERT INTO sms_message (phone, text, parts, kind, sender, tag, created_at, status) "
    "SELECT *, $4, $5, $6, $7::timestamptz, 'queued' "
    "FROM unnest($1::text[], $2::text[], $3::int[]) RETURNING " + _WRITTEN
)
"""PostgreSQL: ``insert_messages`` with one array per column (a statement prepared once;
a VALUES list of a chunk's 1,750 parameters was a new statement for every odd size)."""


@functools.lru_cache(maxsize=16)
def mark_many(rows: int) -> str:
    """SQLite: a chunk's outcomes in one statement, (id, status, SMSC message id, error)
    each and the time once, for rows still ``queued``; the text goes. Joined by id
    (``UPDATE ... FROM``): a correlated lookup per column and row in a list of the chunk
    held the one writer of SQLite for a tenth of a second per chunk (bench/bench_sms.py)."""
    return (
        "UPDATE sms_message SET status = v.column2, smsc_message_id = v.column3, "
        f"error = v.column4, sent_at = ${rows * 4 + 1}, text = '' "
        f"FROM (VALUES {db.rows(rows, 4)}) AS v "
        "WHERE sms_message.id = v.column1 AND sms_message.status = 'queued'"
    )


MARK_MANY = db.sql(
    "UPDATE sms_message SET status = v.status, smsc_message_id = v.smsc, error = v.error, "
    "sent_at = $5, text = '' "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) "
    "AS v(id, status, smsc, error) "
    "WHERE sms_message.id = v.id AND sms_message.status = 'queued'"
)
"""PostgreSQL: ``mark_many`` with one array per column."""


@functools.lru_cache(maxsize=16)
def record_receipts(rows: int) -> str:
    """SQLite: receipts in one statement, (SMSC message id, state) each and the time they
    were recorded once; the ids it found back (the others beat their message's "sent"
    commit, or are not ours)."""
    return (
        f"UPDATE sms_message SET status = v.column2, receipt_at = ${rows * 2 + 1} "
        f"FROM (VALUES {db.rows(rows, 2)}) AS v "
        "WHERE sms_message.smsc_message_id = v.column1 RETURNING smsc_message_id"
    )


RECORD_RECEIPTS = db.sql(
    "UPDATE sms_message SET status = v.state, receipt_at = $3 "
    "FROM unnest($1::text[], $2::text[]) AS v(smsc, state) "
    "WHERE sms_message.smsc_message_id = v.smsc RETURNING sms_message.smsc_message_id"
)
"""PostgreSQL: ``record_receipts`` with one array per column."""


@functools.lru_cache(maxsize=16)
def to_send(rows: int) -> str:
    """SQLite: the messages of a send job, by id (a chunk, or one message)."""
    listed = ", ".join(f"CAST(${n + 1} AS BIGINT)" for n in range(rows))
    return f"SELECT id, phone, text, status, kind, sender FROM sms_message WHERE id IN ({listed})"


TO_SEND = db.sql(
    "SELECT id, phone, text, status, kind, sender FROM sms_message WHERE id = ANY($1::bigint[])"
)
"""PostgreSQL: ``to_send`` with one array."""
