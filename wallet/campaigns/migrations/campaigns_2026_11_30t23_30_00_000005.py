"""``campaign.holdout_bp``: the share of a campaign's audience held out as a control group."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T23:30:00:000005"
VERSION = "1.38.0"
DESCRIPTION = "campaign.holdout_bp"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)

    async def add() -> None:
        from wallet.campaigns.tables import Campaign

        await Campaign.raw(
            "ALTER TABLE campaign ADD COLUMN holdout_bp INTEGER NOT NULL DEFAULT 0"
        )

    async def remove() -> None:
        from wallet.campaigns.tables import Campaign

        await Campaign.raw("ALTER TABLE campaign DROP COLUMN holdout_bp")

    manager.add_raw(add)
    manager.add_raw_backwards(remove)
    return manager
