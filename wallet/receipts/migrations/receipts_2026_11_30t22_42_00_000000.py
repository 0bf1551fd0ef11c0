"""Promotions on receipts: the brand and the money off each line, and the promotions each
receipt applied (a return re-prices the kept goods with them)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import JSON, BigInt, BigSerial, ForeignKey, Integer, Varchar
from piccolo.table import Table

ID = "2026-11-30T22:42:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "receipt_line brand and discounts; receipt_promotion"


class Receipt(Table, tablename="receipt"):
    id = BigSerial(primary_key=True)


class ReceiptPromotion(Table, tablename="receipt_promotion"):
    id = BigSerial(primary_key=True)
    receipt = ForeignKey(references=Receipt, index=True)
    promotion_id = Integer(index=True)
    name = Varchar(length=200)
    definition = JSON()
    discount_kopecks = BigInt(default=0)
    points = BigInt(default=0)
    returned_discount_kopecks = BigInt(default=0)
    returned_points = BigInt(default=0)
    lot_id = BigInt(null=True, default=None)
    use_key = Varchar(length=100, null=True, default=None)


COLUMNS = [
    ("brand", "VARCHAR(64) NULL"),
    ("discount_kopecks", "BIGINT NOT NULL DEFAULT 0"),
    ("manual_discount_kopecks", "BIGINT NOT NULL DEFAULT 0"),
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="receipts", description=DESCRIPTION)

    async def add() -> None:
        for name, kind in COLUMNS:
            await ReceiptPromotion.raw(f"ALTER TABLE receipt_line ADD COLUMN {name} {kind}")
        await ReceiptPromotion.create_table(if_not_exists=True)

    async def remove() -> None:
        await ReceiptPromotion.alter().drop_table(if_exists=True)
        for name, _ in COLUMNS:
            await ReceiptPromotion.raw(f"ALTER TABLE receipt_line DROP COLUMN {name}")

    manager.add_raw(add)
    manager.add_raw_backwards(remove)
    return manager
