"""Marketing SMS (campaigns): the sender name a message goes out under (empty: the
settings' ``WALLET_SMPP_SENDER``) and a tag naming what sent it (``campaign:<id>``), by
which a campaign counts its delivery receipts."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T23:30:03:000003"
VERSION = "1.38.0"
DESCRIPTION = "sms_message.sender, sms_message.tag"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="sms", description=DESCRIPTION)

    async def add() -> None:
        from wallet.sms.tables import SmsMessage

        for statement in (
            "ALTER TABLE sms_message ADD COLUMN sender VARCHAR(15) NOT NULL DEFAULT ''",
            "ALTER TABLE sms_message ADD COLUMN tag VARCHAR(40) NOT NULL DEFAULT ''",
            "CREATE INDEX sms_message_tag ON sms_message (tag)",
        ):
            await SmsMessage.raw(statement)

    async def drop() -> None:
        from wallet.sms.tables import SmsMessage

        for statement in (
            "DROP INDEX sms_message_tag",
            "ALTER TABLE sms_message DROP COLUMN tag",
            "ALTER TABLE sms_message DROP COLUMN sender",
        ):
            await SmsMessage.raw(statement)

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
