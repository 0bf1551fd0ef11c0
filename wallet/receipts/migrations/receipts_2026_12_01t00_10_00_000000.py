"""``receipt_promotion`` loses its foreign key to ``receipt`` and its index on
``promotion_id``: the rows are written only in the receipt's own transaction, right after
the receipt, and nothing looks them up by promotion (the live counters read the whole
table). On a receipt that ten promotions touched, the key's check and the index cost ten
lookups and ten index entries on the till's path (bench/bench_receipts.py --promotions).
SQLite cannot drop a foreign key: the table is rebuilt without it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T00:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "receipt_promotion without its foreign key and promotion index"

_DROP_KEY_POSTGRES = """
DO $$
DECLARE found text;
BEGIN
    FOR found IN SELECT conname FROM pg_constraint
        WHERE conrelid = 'receipt_promotion'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE receipt_promotion DROP CONSTRAINT %I', found);
    END LOOP;
END $$
"""

_REBUILD_SQLITE = """
CREATE TABLE receipt_promotion_new (
    "id" INTEGER PRIMARY KEY NOT NULL,
    "receipt" INTEGER DEFAULT null,
    "promotion_id" INTEGER NOT NULL DEFAULT 0,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "definition" JSON NOT NULL,
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

    async def lighten() -> None:
        from wallet.receipts.tables import ReceiptPromotion

        if ReceiptPromotion._meta.db.engine_type == "postgres":
            await ReceiptPromotion.raw(_DROP_KEY_POSTGRES)
            await ReceiptPromotion.raw("DROP INDEX IF EXISTS receipt_promotion_promotion_id")
            return
        for statement in filter(str.strip, _REBUILD_SQLITE.split(";")):
            await ReceiptPromotion.raw(statement)

    async def restore() -> None:
        from wallet.receipts.tables import ReceiptPromotion

        await ReceiptPromotion.raw(
            "CREATE INDEX IF NOT EXISTS receipt_promotion_promotion_id "
            "ON receipt_promotion (promotion_id)"
        )

    manager.add_raw(lighten)
    manager.add_raw_backwards(restore)
    return manager
