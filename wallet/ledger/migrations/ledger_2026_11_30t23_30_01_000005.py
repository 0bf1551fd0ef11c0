"""An index on ``journal_entry.created_at``: the reports (movements of a period, the
liability at a past moment) select entries by their time, and without it each one read
the whole journal."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T23:30:01:000005"
VERSION = "1.38.0"
DESCRIPTION = "journal_entry.created_at index"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def add() -> None:
        from wallet.ledger.tables import JournalEntry

        await JournalEntry.raw(
            "CREATE INDEX IF NOT EXISTS journal_entry_created_at ON journal_entry (created_at)"
        )

    async def remove() -> None:
        from wallet.ledger.tables import JournalEntry

        await JournalEntry.raw("DROP INDEX IF EXISTS journal_entry_created_at")

    manager.add_raw(add)
    manager.add_raw_backwards(remove)
    return manager
