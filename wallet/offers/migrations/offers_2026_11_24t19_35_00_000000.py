"""Room on every page of the progress table for one more version of each row.

Receipts move ``spent_kopecks`` and settlement writes the outcome, reward and lot id: none
of these columns is indexed, so PostgreSQL can update in place (HOT: no new entry in any of
the four indexes) as long as the page has room for the new version. Bulk-filled pages at
the default fillfactor (100) have none, and the month-end UPDATE of a million rows wrote
four index entries per row (2.55 s for 100,000 rows; 0.42 s at fillfactor 50). SQLite has
no such setting.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-24T19:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "offer_goal_month fillfactor 50 (HOT updates)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="offers", description=DESCRIPTION)

    async def fillfactor_50() -> None:
        from wallet.offers.tables import GoalMonth

        if GoalMonth._meta.db.engine_type == "postgres":
            await GoalMonth.raw("ALTER TABLE offer_goal_month SET (fillfactor = 50)")

    async def fillfactor_default() -> None:
        from wallet.offers.tables import GoalMonth

        if GoalMonth._meta.db.engine_type == "postgres":
            await GoalMonth.raw("ALTER TABLE offer_goal_month RESET (fillfactor)")

    manager.add_raw(fillfactor_50)
    manager.add_raw_backwards(fillfactor_default)
    return manager
