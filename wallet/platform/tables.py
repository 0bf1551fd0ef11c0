from piccolo.columns import (
    JSON,
    BigSerial,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OutboxJob(Table, tablename="outbox_job"):
    """Work that leaves the process after a commit (a pass push, an email, a Google PATCH),
    written in the same transaction as the change that causes it.

    ``dedupe_key`` coalesces: while a job for "pass:card:42" waits, ten more receipts add no
    new job. A worker clears the key when it claims the job, so a change made during the
    send queues a fresh job instead of being folded into one already read.
    """

    id = BigSerial(primary_key=True)
    kind = Varchar(length=32)
    dedupe_key = Varchar(length=120, null=True, default=None, unique=True)
    payload = JSON(default="{}")
    # pending, running, done, dead
    status = Varchar(length=10, default="pending", index=True)
    attempts = Integer(default=0)
    due_at = Timestamptz(default=TimestamptzNow(), index=True)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class IdempotencyRecord(Table, tablename="idempotency_record"):
    """The first reply to a write sent with an ``Idempotency-Key``; a retry gets it back."""

    id = Serial(primary_key=True)
    scope_key = Varchar(length=200, unique=True)
    request_hash = Varchar(length=64)
    status_code = Integer()
    response = JSON()
    created_at = Timestamptz(default=TimestamptzNow())


class AuditEvent(Table, tablename="audit_event"):
    """Who did what to whom, for support and admin actions."""

    id = BigSerial(primary_key=True)
    actor = Varchar(length=100)
    action = Varchar(length=64)
    subject = Varchar(length=100)
    details = JSON(default="{}")
    created_at = Timestamptz(default=TimestamptzNow())


class ScheduleSlot(Table, tablename="schedule_slot"):
    """One row per run of a periodic job ("expire:2026-01-31"): the unique key makes each
    period run once however many workers are up."""

    id = Serial(primary_key=True)
    key = Varchar(length=120, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
