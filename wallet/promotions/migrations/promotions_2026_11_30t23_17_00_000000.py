"""Coupons and promo codes: batches of codes per promotion, the codes (hashed), and
their uses on receipts.

The tables are created from the frozen copies below (not from ``wallet.promotions.tables``,
which will change), the way Piccolo's own generated migrations freeze them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import BigInt, BigSerial, Boolean, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

ID = "2026-11-30T23:17:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "coupons"


class CouponBatch(Table, tablename="coupon_batch"):
    id = Serial(primary_key=True)
    promotion_id = Integer(index=True)
    shared = Boolean(default=False)
    size = Integer()
    valid_from = Timestamptz(null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    per_shopper_limit = Integer(null=True, default=None)
    total_limit = Integer(null=True, default=None)
    used = Integer(default=0)
    export = Text(null=True, default=None)
    downloaded_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Coupon(Table, tablename="coupon"):
    id = BigSerial(primary_key=True)
    batch_id = Integer(index=True)
    promotion_id = Integer()
    code_hash = Varchar(length=64, unique=True)
    account_id = Integer(null=True, default=None, index=True)
    shown = Varchar(length=40, null=True, default=None)
    uses = Integer(default=0)
    max_uses = Integer(null=True, default=None)


class CouponUse(Table, tablename="coupon_use"):
    id = BigSerial(primary_key=True)
    coupon_id = BigInt(index=True)
    batch_id = Integer()
    promotion_id = Integer()
    account_id = Integer(index=True)
    receipt = BigInt(index=True)
    used_at = Timestamptz(default=TimestamptzNow())
    returned_at = Timestamptz(null=True, default=None)


TABLES = [CouponBatch, Coupon, CouponUse]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="promotions", description=DESCRIPTION)

    async def create() -> None:
        for table in TABLES:
            await table.create_table(if_not_exists=True)

    async def drop() -> None:
        for table in reversed(TABLES):
            await table.alter().drop_table(if_exists=True)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
