"""Every hand-written statement of SMS, named (``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

from typing import Any

from wallet import db

RECORD_RECEIPT = db.sql(
    "UPDATE sms_message SET status = $1, receipt_at = $2 WHERE smsc_message_id = $3 RETURNING id"
)
"""The SMSC's delivery receipt on the message it names: no row back means the receipt beat
our own "sent" commit (or names a message we do not know)."""

RECEIPTS_OF_TAG = db.sql(
    "SELECT status, COUNT(*) AS n, SUM(parts) AS parts FROM sms_message WHERE tag = $1 "
    "GROUP BY status"
)
"""Messages sent under one tag (a campaign) by status, with their parts."""

MARK_SENT = db.sql(
    "UPDATE sms_message SET status = $1, smsc_message_id = $2, sent_at = $3, error = $4, "
    "text = '' WHERE id = $5 AND status = 'queued'"
)
"""A message the SMSC took (``sent``, with its id) or refused (``dead``, with the reason);
the text goes (a code must not stay readable)."""


def insert_messages(p: db.Params, rows: list[tuple[str, str, str, str, str, int, Any]]) -> str:
    """Many queued messages in one statement (a campaign's chunk): phone, kind, sender,
    tag, text, parts, created_at each; their ids back in order."""
    values = ", ".join("(" + ", ".join(p(value) for value in row) + ", 'queued')" for row in rows)
    return (
        "INSERT INTO sms_message (phone, kind, sender, tag, text, parts, created_at, status) "
        f"VALUES {values} RETURNING id"
    )
