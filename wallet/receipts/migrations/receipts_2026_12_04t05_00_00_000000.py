"""``receipt_promotion.definition`` may be NULL, and new rows leave it NULL: a return reads
the definition from ``promotion``, where it never changes once created (there is no edit:
a new rule is a new promotion). The copy was about 500 bytes per promotion per receipt,
1.5 KB on a receipt three promotions touched, written and JSON-checked on the till's path.
Rows written before keep their copy, which a return still prefers. SQLite cannot drop a
NOT NULL: the table is rebuilt with the column nullable.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T05:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "receipt_promotion.definition nullable (read from promotion)"

_REBUILD_SQLITE = """
CREATE TABLE receipt_promotion_new (
    "id" INTEGER PRIMARY KEY NOT NULL,
    "receipt" INTEGER DEFAULT null,
    "promotion_id" INTEGER NOT NULL DEFAULT 0,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "definition" JSON DEFAULT null,
    "discount_kopecks" INTEGER NOT NULL DEFAULT 0,
    "points" INTEGER NOT NULL DEFAULT 0,
    "returned_discount_kopecks" INTEGER NOT NULL DEFAULT 0,
    "returned_points" INTEGER NOT NULL DEFAULT 0,
    "lot_id" INTEGER DEFAULT null,
    "use_key" VARCHAR(100) DEFAULT null
);
INSERT INTO receipt_promotion_new SELECT id, receipt, promotion_id, name, definition,
    discount_kopecks, points, returned_discount_kopecks, returned_points, lot_id, use_key
    FROM receipt_promotion;
DROP TABLE receipt_promotion;
ALTER TABLE receipt_promotion_new RENAME TO receipt_promotion;
CREATE INDEX receipt_promotion_receipt ON receipt_promotion (receipt)
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="receipts", description=DESCRIPTION)

    async def nullable() -> None:
        from wallet.receipts.tables import ReceiptPromotion

        if ReceiptPromotion._meta.db.engine_type == "postgres":
            await ReceiptPromotion.raw(
                "ALTER TABLE receipt_promotion ALTER COLUMN definition DROP NOT NULL, "
                "ALTER COLUMN definition DROP DEFAULT"
            )
            return
        for statement in filter(str.strip, _REBUILD_SQLITE.split(";")):
            await ReceiptPromotion.raw(statement)

    async def copy_back() -> None:
        # Back to a copy on every row: the rows that left it NULL take the promotion's.
        from wallet.receipts.tables import ReceiptPromotion

        await ReceiptPromotion.raw(
            "UPDATE receipt_promotion SET definition = (SELECT p.definition FROM promotion p "
            "WHERE p.id = receipt_promotion.promotion_id) WHERE definition IS NULL"
        )

    manager.add_raw(nullable)
    manager.add_raw_backwards(copy_back)
    return manager
