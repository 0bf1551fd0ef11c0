"""A coupon batch's status: ``making`` while the worker draws a big batch's codes in
chunks, ``ready`` once every code is stored (and, for unique codes, their CSV waits for
its one download). Batches made before are ready."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Serial
from piccolo.table import Table

ID = "2026-12-01T13:33:00:000001"
VERSION = "1.38.0"
DESCRIPTION = "coupon_batch status"


class CouponBatch(Table, tablename="coupon_batch"):
    id = Serial(primary_key=True)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="promotions", description=DESCRIPTION)

    async def add() -> None:
        await CouponBatch.raw(
            "ALTER TABLE coupon_batch ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'ready'"
        )

    async def remove() -> None:
        await CouponBatch.raw("ALTER TABLE coupon_batch DROP COLUMN status")

    manager.add_raw(add)
    manager.add_raw_backwards(remove)
    return manager
