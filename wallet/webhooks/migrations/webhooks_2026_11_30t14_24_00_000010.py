"""Webhook endpoints and their deliveries (frozen copies of the tables, the way Piccolo's
generated migrations freeze them), and the index a stream's next delivery is found by."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import JSON, BigInt, BigSerial, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

ID = "2026-11-30T14:24:00:000010"
VERSION = "1.38.0"
DESCRIPTION = "webhooks"


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    id = Serial(primary_key=True)
    url = Varchar(length=2000)
    events = JSON(default="[]")
    secret = Text()
    status = Varchar(length=16, default="active")
    disabled_reason = Text(default="")
    failures = Integer(default=0)
    failing_since = Timestamptz(null=True, default=None)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class WebhookDelivery(Table, tablename="webhook_delivery"):
    id = BigSerial(primary_key=True)
    endpoint_id = Integer(index=True)
    event_id = Varchar(length=40, index=True)
    event_type = Varchar(length=40)
    account_id = BigInt(default=0)
    body = Text()
    status = Varchar(length=12, default="pending", index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    lease_until = Timestamptz(null=True, default=None)
    last_status = Integer(null=True, default=None)
    last_error = Text(default="")
    replay_of = BigInt(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="webhooks", description=DESCRIPTION)

    async def create() -> None:
        await WebhookEndpoint.create_table(if_not_exists=True)
        await WebhookDelivery.create_table(if_not_exists=True)
        await WebhookDelivery.raw(
            "CREATE INDEX IF NOT EXISTS webhook_delivery_stream "
            "ON webhook_delivery (endpoint_id, account_id, status, id)"
        )

    async def drop() -> None:
        await WebhookDelivery.alter().drop_table(if_exists=True)
        await WebhookEndpoint.alter().drop_table(if_exists=True)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
