"""The promotion that gave (or took back) a journal entry's points."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T22:43:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "journal_entry.promotion_id"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def add() -> None:
        from wallet.ledger.tables import JournalEntry

        await JournalEntry.raw("ALTER TABLE journal_entry ADD COLUMN promotion_id INTEGER NULL")

    async def remove() -> None:
        from wallet.ledger.tables import JournalEntry

        await JournalEntry.raw("ALTER TABLE journal_entry DROP COLUMN promotion_id")

    manager.add_raw(add)
    manager.add_raw_backwards(remove)
    return manager
