"""The campaign channel ``sms``: its text, sender name and rate."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T23:30:02:000003"
VERSION = "1.38.0"
DESCRIPTION = "campaign.sms_text, campaign.sms_sender, campaign.sms_rate"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)

    async def add() -> None:
        from wallet.campaigns.tables import Campaign

        for statement in (
            "ALTER TABLE campaign ADD COLUMN sms_text TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE campaign ADD COLUMN sms_sender VARCHAR(15) NOT NULL DEFAULT ''",
            "ALTER TABLE campaign ADD COLUMN sms_rate INTEGER NOT NULL DEFAULT 0",
        ):
            await Campaign.raw(statement)

    async def drop() -> None:
        from wallet.campaigns.tables import Campaign

        for column in ("sms_rate", "sms_sender", "sms_text"):
            await Campaign.raw(f"ALTER TABLE campaign DROP COLUMN {column}")

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
