"""Every hand-written statement of campaigns, named (``$n`` placeholders; see ``db.sql``).

A campaign's delivery rows are made from a segment's audience in one INSERT ... SELECT
(``materialize``): the audience's WHERE clause numbers its values in the same ``db.Params``.
"""

from __future__ import annotations

from datetime import datetime

from wallet import db
from wallet.campaigns import holdout
from wallet.members import privacy as member_privacy
from wallet.segments import queries as segment_queries


def _ever_granted(channel: str) -> str:
    # Off now but granted once: the shopper unsubscribed, rather than never opted in.
    return (
        "EXISTS (SELECT 1 FROM member_consent c WHERE c.member_id = m.id "
        f"AND c.channel = '{channel}' AND c.granted)"
    )


def _no_consent(channel: str) -> str:
    return f"CASE WHEN {_ever_granted(channel)} THEN 'unsubscribed' ELSE 'no_consent' END"


# Per channel, a new delivery's status and reason from the shopper's address and consent
# (the reasons the preview's reach forecast gives too: unsubscribed is consent withdrawn).
_CONSENT = {
    "email": (
        "CASE WHEN m.email IS NULL OR m.email = '' THEN 'skipped' "
        "WHEN m.marketing_email THEN 'pending' ELSE 'skipped' END",
        "CASE WHEN m.email IS NULL OR m.email = '' THEN 'no_email' "
        f"WHEN m.marketing_email THEN '' ELSE {_no_consent('marketing_email')} END",
    ),
    "push": (
        "CASE WHEN m.marketing_push THEN 'pending' ELSE 'skipped' END",
        f"CASE WHEN m.marketing_push THEN '' ELSE {_no_consent('marketing_push')} END",
    ),
    # Кошелёк finds the card by phone; pushes there are marketing pushes like the passes'.
    "koshelek": (
        "CASE WHEN m.phone IS NULL OR m.phone = '' THEN 'skipped' "
        "WHEN m.marketing_push THEN 'pending' ELSE 'skipped' END",
        "CASE WHEN m.phone IS NULL OR m.phone = '' THEN 'no_phone' "
        f"WHEN m.marketing_push THEN '' ELSE {_no_consent('marketing_push')} END",
    ),
    # Marketing SMS: its own opt-in and a number.
    "sms": (
        "CASE WHEN m.phone IS NULL OR m.phone = '' THEN 'skipped' "
        "WHEN m.marketing_sms THEN 'pending' ELSE 'skipped' END",
        "CASE WHEN m.phone IS NULL OR m.phone = '' THEN 'no_phone' "
        f"WHEN m.marketing_sms THEN '' ELSE {_no_consent('marketing_sms')} END",
    ),
}


# The consent a delivery of each channel rests on (Кошелёк's pushes are marketing pushes).
_CONSENT_CHANNEL = {
    "email": "marketing_email",
    "push": "marketing_push",
    "koshelek": "marketing_push",
    "sms": "marketing_sms",
}


def materialize(
    p: db.Params,
    *,
    campaign_id: int,
    channel: str,
    suffix: str,
    now: datetime,
    where: str,
    holdout_bp: int = 0,
) -> str:
    """One delivery row per shopper of the audience ``where`` (numbered in ``p``); a row
    already there (same key) stays. With ``holdout_bp``, the shoppers the hash holds out
    get a ``held_out`` row instead (its reason still says whether it would have gone)."""
    status_sql, reason_sql = _CONSENT[channel]
    if holdout_bp > 0:
        drawn = holdout.bucket_sql(p(campaign_id), "m.account")
        status_sql = (
            f"CASE WHEN {drawn} < {p(holdout_bp)} THEN '{holdout.HELD_OUT}' ELSE {status_sql} END"
        )
    consent_sql = member_privacy.current_consent_sql("m.id", _CONSENT_CHANNEL[channel])
    return (
        "INSERT INTO delivery (key, campaign_id, account_id, channel, status, reason, attempts, "
        "consent_id, created_at) "
        f"SELECT {p(f'{campaign_id}:')} || CAST(m.account AS TEXT) || {p(suffix)}, "
        f"{p(campaign_id)}, m.account, {p(channel)}, {status_sql}, {reason_sql}, 0, "
        f"{consent_sql}, {p(now)} {segment_queries.FROM_AUDIENCE} WHERE {where} "
        "ON CONFLICT (key) DO NOTHING"
    )


def sms_reach(where: str) -> str:
    """How many of the audience ``where`` a marketing SMS would reach: opted in, with a
    number (the campaign's cost estimate)."""
    return (
        f"SELECT COUNT(*) AS n {segment_queries.FROM_AUDIENCE} WHERE ({where}) "
        "AND m.marketing_sms AND m.phone IS NOT NULL AND m.phone <> ''"
    )


MARK_UNSUBSCRIBED = db.sql(
    "UPDATE delivery SET unsubscribed_at = $1 WHERE campaign_id = $2 AND account_id = $3 "
    "AND channel = 'email' AND unsubscribed_at IS NULL"
)
"""The campaign whose link a shopper unsubscribed through is credited with it (once)."""

MARK_CLICKED = db.sql(
    "UPDATE delivery SET clicked_at = $1 WHERE campaign_id = $2 AND account_id = $3 "
    "AND channel = 'email' AND clicked_at IS NULL"
)
"""A followed link credits the campaign with one clicking shopper (the first click only:
marketers read clicks as how many people came, not how often one tapped)."""

FIGURES = db.sql(
    "SELECT channel, status, reason, COUNT(*) AS n, COUNT(unsubscribed_at) AS u, "
    "COUNT(clicked_at) AS c, COUNT(doubtful_at) AS d "
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

ANY_SENT = db.sql("SELECT COUNT(*) AS n FROM delivery WHERE campaign_id = $1 AND status = 'sent'")
"""Whether a finished campaign reached anybody at all."""


_REACH = {
    "email": (
        "CASE WHEN m.email IS NULL OR m.email = '' THEN 'no_email' "
        f"WHEN m.marketing_email THEN '' ELSE {_no_consent('marketing_email')} END"
    ),
    "push": (
        f"CASE WHEN NOT m.marketing_push THEN ({_no_consent('marketing_push')}) "
        f"WHEN {segment_queries.HOLDS_A_PASS} THEN '' ELSE 'no_wallet' END"
    ),
    "koshelek": (
        "CASE WHEN m.phone IS NULL OR m.phone = '' THEN 'no_phone' "
        f"WHEN m.marketing_push THEN '' ELSE {_no_consent('marketing_push')} END"
    ),
    "sms": (
        "CASE WHEN m.phone IS NULL OR m.phone = '' THEN 'no_phone' "
        f"WHEN m.marketing_sms THEN '' ELSE {_no_consent('marketing_sms')} END"
    ),
}


REACH_CHANNELS = frozenset(_REACH)


def reach(channels: list[str], where: str) -> str:
    """The audience ``where`` grouped by what each channel would do with a shopper: ''
    (reached) or why not; one column ``c<i>`` per channel of ``channels`` that ``reach``
    knows, and ``n`` shoppers per combination."""
    known = [c for c in channels if c in _REACH]
    assert known == channels, channels
    columns = [f"c{i}" for i in range(len(known))] or ["c0"]
    cases = [f"{_REACH[c]} AS c{i}" for i, c in enumerate(known)] or ["'' AS c0"]
    return (
        f"SELECT {', '.join(columns)}, COUNT(*) AS n FROM (SELECT {', '.join(cases)} "
        f"{segment_queries.FROM_AUDIENCE} WHERE {where}) t GROUP BY {', '.join(columns)}"
    )
