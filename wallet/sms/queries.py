"""Every hand-written statement of SMS, named (``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

from typing import Any

from wallet import db

RECEIPTS_OF_TAG = db.sql(
    "SELECT status, COUNT(*) AS n, SUM(parts) AS parts FROM sms_message WHERE tag = $1 "
    "GROUP BY status"
)
"""Messages sent under one tag (a campaign) by status, with their parts."""


def insert_messages(p: db.Params, rows: list[tuple[str, str, str, str, str, int, Any]]) -> str:
    """Many queued messages in one statement (a campaign's chunk): phone, kind, sender,
    tag, text, parts, created_at each; their ids back in order."""
    values = ", ".join("(" + ", ".join(p(value) for value in row) + ", 'queued')" for row in rows)
    return (
        "INSERT INTO sms_message (phone, kind, sender, tag, text, parts, created_at, status) "
        f"VALUES {values} RETURNING id"
    )


def mark_many(p: db.Params, outcomes: list[tuple[int, str, str | None, str]], sent_at: Any) -> str:
    """A chunk's outcomes in one statement: (id, status, SMSC message id, error) each, for
    rows still ``queued``; the text goes."""
    values = ", ".join(
        f"(CAST({p(i)} AS BIGINT), {p(status)}, {p(smsc)}, {p(error)})"
        for i, status, smsc, error in outcomes
    )
    return (
        f"WITH v(id, status, smsc, error) AS (VALUES {values}) "
        "UPDATE sms_message SET "
        "status = (SELECT v.status FROM v WHERE v.id = sms_message.id), "
        "smsc_message_id = (SELECT v.smsc FROM v WHERE v.id = sms_message.id), "
        "error = (SELECT v.error FROM v WHERE v.id = sms_message.id), "
        f"sent_at = {p(sent_at)}, text = '' "
        "WHERE id IN (SELECT id FROM v) AND status = 'queued'"
    )


def record_receipts(p: db.Params, receipts: list[tuple[str, str]], at: Any) -> str:
    """Receipts in one statement: (SMSC message id, state) each; the ids it found back
    (the others beat their message's "sent" commit, or are not ours)."""
    values = ", ".join(f"({p(smsc)}, {p(state)})" for smsc, state in receipts)
    return (
        f"WITH v(smsc, state) AS (VALUES {values}) "
        "UPDATE sms_message SET "
        "status = (SELECT v.state FROM v WHERE v.smsc = sms_message.smsc_message_id), "
        f"receipt_at = {p(at)} WHERE smsc_message_id IN (SELECT smsc FROM v) "
        "RETURNING smsc_message_id"
    )


def to_send(p: db.Params, ids: list[int]) -> str:
    """The messages of a send job, by id (a job's chunk of up to a hundred)."""
    listed = ", ".join(f"CAST({p(i)} AS BIGINT)" for i in ids)
    return f"SELECT id, phone, text, status, kind, sender FROM sms_message WHERE id IN ({listed})"
