"""Webhooks: the endpoints admins register and one delivery row per event per endpoint
(the outbox of what CRM and ERP systems are told, written in the event's transaction)."""

from piccolo.columns import JSON, BigInt, BigSerial, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    id = Serial(primary_key=True)
    url = Varchar(length=2000)
    # The event types it asked for ("receipt.posted", ...).
    events = JSON(default="[]")
    # The signing secret, Fernet-encrypted with the server's secret key: it must be read
    # back to sign, so it cannot be hashed; it is shown once, at creation, never logged.
    secret = Text()
    # active or disabled (by an admin, or after repeated failure: ``disabled_reason``).
    status = Varchar(length=16, default="active")
    disabled_reason = Text(default="")
    # Failed attempts in a row (any account's stream) and when the first of them was: a
    # success resets both; enough of them over long enough disables the endpoint.
    failures = Integer(default=0)
    failing_since = Timestamptz(null=True, default=None)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class WebhookDelivery(Table, tablename="webhook_delivery"):
    id = BigSerial(primary_key=True)
    endpoint_id = Integer(index=True)
    # The event's id (the receiver's deduplication key): the same for every endpoint told
    # of the event and for a replay of it.
    event_id = Varchar(length=40, index=True)
    event_type = Varchar(length=40)
    # The stream the delivery belongs to: one account's events go out one at a time, in
    # the order their transactions wrote them (ids grow under the account's lock).
    account_id = BigInt(default=0)
    # The exact JSON sent (and signed), fixed when the event happened.
    body = Text()
    # pending -> sending (leased to one worker) -> delivered, or failed (gave up after
    # 24 h of retries); back to pending on a failed attempt, with ``next_attempt_at``.
    status = Varchar(length=12, default="pending", index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    lease_until = Timestamptz(null=True, default=None)
    last_status = Integer(null=True, default=None)
    last_error = Text(default="")
    replay_of = BigInt(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)
