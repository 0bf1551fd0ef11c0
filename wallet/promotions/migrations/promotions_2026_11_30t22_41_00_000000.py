"""Promotions: the promotion, the active set's version counter, per-shopper use, and the
stores' limits on cashier discounts.

The tables are created from the frozen copies below (not from ``wallet.promotions.tables``,
which will change), the way Piccolo's own generated migrations freeze them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import JSON, BigInt, BigSerial, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

ID = "2026-11-30T22:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "promotions"


class Store(Table, tablename="store"):
    id = Serial(primary_key=True)


class Promotion(Table, tablename="promotion"):
    id = Serial(primary_key=True)
    name = Varchar(length=200)
    status = Varchar(length=16, default="draft", index=True)
    definition = JSON()
    budget_points = BigInt(null=True, default=None)
    budget_kopecks = BigInt(null=True, default=None)
    used_points = BigInt(default=0)
    used_kopecks = BigInt(default=0)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class PromotionVersion(Table, tablename="promotion_version"):
    id = Integer(primary_key=True)
    version = BigInt(default=0)


class PromotionShopperUse(Table, tablename="promotion_shopper_use"):
    id = BigSerial(primary_key=True)
    use_key = Varchar(length=100, unique=True)
    promotion_id = Integer(index=True)
    account_id = Integer()
    points = BigInt(default=0)
    kopecks = BigInt(default=0)


class ManualDiscountPolicy(Table, tablename="manual_discount_policy"):
    id = Serial(primary_key=True)
    store = ForeignKey(references=Store, unique=True)
    max_line_share_bp = Integer()
    reasons = JSON()


TABLES = [Promotion, PromotionVersion, PromotionShopperUse, ManualDiscountPolicy]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="promotions", description=DESCRIPTION)

    async def create() -> None:
        for table in TABLES:
            await table.create_table(if_not_exists=True)
        await PromotionVersion.insert(PromotionVersion(id=1, version=0))

    async def drop() -> None:
        for table in reversed(TABLES):
            await table.alter().drop_table(if_exists=True)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
