"""Month-end standings: ``standing_month`` (the recorded month ends),
``account_standing_month`` (each account's tier and RFM group then, unique per month and
account so a rerun inserts nothing twice) and ``standing_month_moves`` (their counts).

Empty here: the worker's month-end job fills them from the month that just ended on
(``wallet record-standings`` fills earlier months from the receipts).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T17:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "month-end standings (tier and RFM group per account)"

TABLES = ("standing_month_moves", "account_standing_month", "standing_month")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="segments", description=DESCRIPTION)

    async def create() -> None:
        from wallet.segments.tables import Segment

        postgres = Segment._meta.db.engine_type == "postgres"
        key = "SERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        big = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        await Segment.raw(
            f"CREATE TABLE IF NOT EXISTS standing_month (id {key}, "
            "month VARCHAR(7) NOT NULL UNIQUE, as_of TIMESTAMPTZ NOT NULL, "
            "accounts INTEGER NOT NULL DEFAULT 0, recorded_at TIMESTAMPTZ NOT NULL)"
        )
        await Segment.raw(
            f"CREATE TABLE IF NOT EXISTS account_standing_month (id {big}, "
            "month VARCHAR(7) NOT NULL, account_id BIGINT NOT NULL, "
            "tier VARCHAR(100) NOT NULL, tier_floor_kopecks BIGINT NOT NULL DEFAULT 0, "
            "rfm_group VARCHAR(16), prev_tier VARCHAR(100), prev_floor_kopecks BIGINT, "
            "prev_rfm_group VARCHAR(16))"
        )
        await Segment.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS account_standing_month_month_account "
            "ON account_standing_month (month, account_id)"
        )
        await Segment.raw(
            f"CREATE TABLE IF NOT EXISTS standing_month_moves (id {key}, "
            "month VARCHAR(7) NOT NULL, prev_tier VARCHAR(100), prev_floor_kopecks BIGINT, "
            "tier VARCHAR(100) NOT NULL, tier_floor_kopecks BIGINT NOT NULL DEFAULT 0, "
            "prev_rfm_group VARCHAR(16), rfm_group VARCHAR(16), "
            "accounts INTEGER NOT NULL DEFAULT 0)"
        )
        await Segment.raw(
            "CREATE INDEX IF NOT EXISTS standing_month_moves_month "
            "ON standing_month_moves (month)"
        )

    async def drop() -> None:
        from wallet.segments.tables import Segment

        for table in TABLES:
            await Segment.raw(f"DROP TABLE IF EXISTS {table}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
