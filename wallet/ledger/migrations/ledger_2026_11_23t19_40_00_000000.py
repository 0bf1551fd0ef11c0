"""Room on every page of ``account`` and ``lot`` for the next version of a row.

Every receipt rewrites its account's totals and every redemption a lot's ``remaining``;
none of those columns is indexed, so PostgreSQL can update the row in place (a HOT update:
no new index entries) when its page has free space. At the default fillfactor (100)
pages filled by inserts have none. SQLite has no such setting.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T19:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "account and lot fillfactor (HOT updates)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def leave_room() -> None:
        from wallet.ledger.tables import Account

        if Account._meta.db.engine_type == "postgres":
            await Account.raw("ALTER TABLE account SET (fillfactor = 70)")
            await Account.raw("ALTER TABLE lot SET (fillfactor = 80)")

    async def default_fill() -> None:
        from wallet.ledger.tables import Account

        if Account._meta.db.engine_type == "postgres":
            await Account.raw("ALTER TABLE account RESET (fillfactor)")
            await Account.raw("ALTER TABLE lot RESET (fillfactor)")

    manager.add_raw(leave_room)
    manager.add_raw_backwards(default_fill)
    return manager
