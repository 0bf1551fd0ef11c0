"""Every hand-written statement of campaigns, named (``$n`` placeholders; see ``db.sql``).

A campaign's delivery rows are made from a segment's audience in one INSERT ... SELECT
(``materialize``): the audience's WHERE clause numbers its values in the same ``db.Params``.
"""

from __future__ import annotations

from datetime import datetime

from wallet import db
from wallet.members import privacy as member_privacy
from wallet.segments import queries as segment_queries

# Per channel, a new delivery's status and reason from the shopper's address and consent.
_CONSENT = {
    "email": (
        "CASE WHEN m.email IS NULL OR m.email = '' THEN 'skipped' "
        "WHEN m.marketing_email THEN 'pending' ELSE 'skipped' END",
        "CASE WHEN m.email IS NULL OR m.email = '' THEN 'no_email' "
        "WHEN m.marketing_email THEN '' ELSE 'no_consent' END",
    ),
    "push": (
        "CASE WHEN m.marketing_push THEN 'pending' ELSE 'skipped' END",
        "CASE WHEN m.marketing_push THEN '' ELSE 'no_consent' END",
    ),
    # Кошелёк finds the card by phone; pushes there are marketing pushes like the passes'.
    "koshelek": (
        "CASE WHEN m.phone IS NULL OR m.phone = '' THEN 'skipped' "
        "WHEN m.marketing_push THEN 'pending' ELSE 'skipped' END",
        "CASE WHEN m.phone IS NULL OR m.phone = '' THEN 'no_phone' "
        "WHEN m.marketing_push THEN '' ELSE 'no_consent' END",
    ),
}


# The consent a delivery of each channel rests on (Кошелёк's pushes are marketing pushes).
_CONSENT_CHANNEL = {
    "email": "marketing_email",
    "push": "marketing_push",
    "koshelek": "marketing_push",
}


def materialize(
    p: db.Params, *, campaign_id: int, channel: str, suffix: str, now: datetime, where: str
) -> str:
    """One delivery row per shopper of the audience ``where`` (numbered in ``p``); a row
    already there (same key) stays."""
    status_sql, reason_sql = _CONSENT[channel]
    consent_sql = member_privacy.current_consent_sql("m.id", _CONSENT_CHANNEL[channel])
    return (
        "INSERT INTO delivery (key, campaign_id, account_id, channel, status, reason, attempts, "
        "consent_id, created_at) "
        f"SELECT {p(f'{campaign_id}:')} || CAST(m.account AS TEXT) || {p(suffix)}, "
        f"{p(campaign_id)}, m.account, {p(channel)}, {status_sql}, {reason_sql}, 0, "
        f"{consent_sql}, {p(now)} {segment_queries.FROM_AUDIENCE} WHERE {where} "
        "ON CONFLICT (key) DO NOTHING"
    )


MARK_UNSUBSCRIBED = db.sql(
    "UPDATE delivery SET unsubscribed_at = $1 WHERE campaign_id = $2 AND account_id = $3 "
    "AND channel = 'email' AND unsubscribed_at IS NULL"
)
"""The campaign whose link a shopper unsubscribed through is credited with it (once)."""

FIGURES = db.sql(
    "SELECT channel, status, reason, COUNT(*) AS n, COUNT(unsubscribed_at) AS u, "
    "COUNT(doubtful_at) AS d "
    "FROM delivery WHERE campaign_id = $1 GROUP BY channel, status, reason"
)
"""A campaign's deliveries counted per channel, status and reason (``d``: those a dead
worker may already have sent before they were claimed again)."""

CANCEL_PENDING = db.sql(
    "UPDATE delivery SET status = 'cancelled' WHERE campaign_id = $1 AND status = 'pending'"
)
"""A cancelled campaign's deliveries not sent yet never go."""


def _ids(p: db.Params, ids: list[int]) -> str:
    return "(" + ", ".join(p(i) for i in ids) + ")"


def hand_back(p: db.Params, ids: list[int]) -> str:
    """Deliveries handed back unsent (a stopping worker, a receiver down): not a crash, so
    the claim does not count towards the claim limit."""
    return (
        "UPDATE delivery SET status = 'pending', attempts = attempts - 1, "
        f"claimed_until = NULL, started_at = NULL WHERE id IN {_ids(p, ids)} "
        "AND status = 'sending'"
    )


def renew_claims(p: db.Params, ids: list[int]) -> str:
    """The rows a live sending slice still holds, held until $1 (its heartbeat)."""
    return (
        f"UPDATE delivery SET claimed_until = $1 WHERE id IN {_ids(p, ids)} AND status = 'sending'"
    )


MARK_STARTED = db.sql("UPDATE delivery SET started_at = $1 WHERE id = $2 AND status = 'sending'")
"""A message about to leave (email, Кошелёк): a crash before it is marked sent leaves the
row started, and its next claim marks it doubtful."""


def mark(p: db.Params, ids: list[int], status: str, reason: str, sent_at: datetime | None) -> str:
    """Deliveries done with: sent, skipped or failed, and why."""
    return (
        f"UPDATE delivery SET status = {p(status)}, reason = {p(reason)}, "
        f"sent_at = {p(sent_at)}, claimed_until = NULL WHERE id IN {_ids(p, ids)}"
    )


CLAIM = db.sql(
    "UPDATE delivery SET status = 'sending', attempts = attempts + 1, claimed_until = $1, "
    "doubtful_at = CASE WHEN status = 'sending' AND started_at IS NOT NULL "
    "THEN $5 ELSE doubtful_at END, started_at = NULL "
    "WHERE id IN (SELECT id FROM delivery WHERE id > $2 AND campaign_id = $3 "
    "AND channel = $4 AND (status = 'pending' OR (status = 'sending' "
    "AND claimed_until < $5)) ORDER BY id LIMIT $6 {lock}) "
    "RETURNING id, account_id, attempts, key",
    lock="FOR UPDATE SKIP LOCKED",
)
"""A slice of a channel's deliveries leased to this worker until $1: pending ones, or ones
whose lease ran out (a worker died; one it had started sending is marked doubtful: the
shopper may get it twice). Rows another worker is claiming are skipped, not
waited for (PostgreSQL; SQLite has one writer)."""

UNFINISHED = db.sql(
    "SELECT COUNT(*) AS n FROM delivery WHERE campaign_id = $1 AND status IN ('pending', 'sending')"
)
"""Deliveries of a campaign still to send or being sent."""

PENDING_ON_CHANNEL = db.sql(
    "SELECT COUNT(*) AS n FROM delivery WHERE campaign_id = $1 AND channel = $2 "
    "AND status = 'pending'"
)
"""Deliveries of one channel waiting for a send job."""

ENABLE_LOCK = db.sql("SELECT pg_advisory_xact_lock(hashtext($1))")
"""PostgreSQL: two marketers switching the same automatic message on at once make one
campaign (the transaction-scoped lock orders them; SQLite's writer lock already does)."""

DELIVERIES_OF_ACCOUNT = db.sql(
    "SELECT d.id, d.campaign_id, c.name AS campaign, c.kind, d.channel, d.status, "
    "d.reason, d.sent_at, d.created_at, d.consent_id FROM delivery d "
    "JOIN campaign c ON c.id = d.campaign_id WHERE d.account_id = $1 ORDER BY d.id"
)
"""Messages a shopper was sent (or was to be sent), for their data export."""

CANCEL_QUEUED_OF_ACCOUNT = db.sql(
    "UPDATE delivery SET status = 'skipped', reason = 'consent_withdrawn' "
    "WHERE account_id = $1 AND status = 'pending' RETURNING id"
)
"""Erasure: the shopper's queued messages never go (skipped at once rather than left for
the send-time consent check, so the figures say why)."""
