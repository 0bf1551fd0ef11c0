"""SMS sent over SMPP and their delivery receipts (issue 14)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T11:43:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sms_message"

_TABLE = """
CREATE TABLE sms_message (
    id {bigserial} PRIMARY KEY,
    phone VARCHAR(20) NOT NULL,
    kind VARCHAR(20) NOT NULL,
    text VARCHAR(1600) NOT NULL DEFAULT '',
    parts INTEGER NOT NULL DEFAULT 1,
    status VARCHAR(12) NOT NULL DEFAULT 'queued',
    smsc_message_id VARCHAR(65) NULL DEFAULT NULL UNIQUE,
    error VARCHAR(200) NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ NULL DEFAULT NULL,
    receipt_at TIMESTAMPTZ NULL DEFAULT NULL
);
CREATE INDEX sms_message_phone ON sms_message (phone, created_at)
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="sms", description=DESCRIPTION)

    async def create() -> None:
        from wallet.sms.tables import SmsMessage

        postgres = SmsMessage._meta.db.engine_type == "postgres"
        sql = _TABLE.format(bigserial="BIGSERIAL" if postgres else "INTEGER")
        for statement in filter(str.strip, sql.split(";")):
            await SmsMessage.raw(statement)

    async def drop() -> None:
        from wallet.sms.tables import SmsMessage

        await SmsMessage.raw("DROP TABLE sms_message")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
