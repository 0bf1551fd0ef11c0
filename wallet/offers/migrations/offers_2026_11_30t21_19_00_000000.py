"""Points in 64-bit columns on PostgreSQL, as money already is.

A 32-bit ``integer`` holds 2,147,483,647: a balance, a lot or a receipt's points past that
failed the write with a 500 (a receipt of 1,000 lines of 10,000,000,000 kopecks did). The
input bounds keep one receipt far below it; the columns keep a balance that grows for years
from ever reaching it. SQLite's integers are 64-bit already.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T21:19:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "points columns to bigint (PostgreSQL)"

COLUMNS = {
    'offer': ['cap_points', 'rounding_step_kopecks'],
    'offer_goal_month': ['reward_points'],
    'offer_burn_reminder': ['points'],
}


async def _alter(kind: str) -> None:
    from wallet.offers.tables import Offer

    if Offer._meta.db.engine_type != "postgres":
        return
    for table, columns in COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {column} TYPE {kind}" for column in columns)
        await Offer.raw(f"ALTER TABLE {table} {changes}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="offers", description=DESCRIPTION)

    async def widen() -> None:
        await _alter("BIGINT")

    async def narrow() -> None:
        await _alter("INTEGER")

    manager.add_raw(widen)
    manager.add_raw_backwards(narrow)
    return manager
