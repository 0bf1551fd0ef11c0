"""Support finds a shopper by part of the name: a trigram index on ``lower(name)``
(PostgreSQL's pg_trgm), so ``lower(name) LIKE '%смирн%'`` is an index scan on a million
members instead of a full scan. SQLite has no trigram index: its search folds the names in
Python (correct, slower); nothing to do there."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T14:13:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "trigram index on member names (PostgreSQL)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)

    async def trigram_index() -> None:
        from wallet.members.tables import Member

        if Member._meta.db.engine_type == "postgres":
            await Member.raw("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            await Member.raw(
                "CREATE INDEX IF NOT EXISTS member_name_trgm "
                "ON member USING gin (lower(name) gin_trgm_ops)"
            )

    async def drop_index() -> None:
        from wallet.members.tables import Member

        if Member._meta.db.engine_type == "postgres":
            await Member.raw("DROP INDEX IF EXISTS member_name_trgm")

    manager.add_raw(trigram_index)
    manager.add_raw_backwards(drop_index)
    return manager
