"""Imported receipts: an old program's purchase history, shown in the shopper's history
(``wallet/receipts/imported.py``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T23:45:15:000015"
VERSION = "1.38.0"
DESCRIPTION = "imported_receipt"

_TABLE = """
CREATE TABLE imported_receipt (
    id {bigserial} PRIMARY KEY,
    account_id INTEGER NOT NULL,
    old_id VARCHAR(64) NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    paid_kopecks BIGINT NOT NULL,
    category VARCHAR(64) NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX imported_receipt_account_id ON imported_receipt (account_id)
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="receipts", description=DESCRIPTION)

    async def create() -> None:
        from wallet.receipts.tables import ImportedReceipt

        postgres = ImportedReceipt._meta.db.engine_type == "postgres"
        sql = _TABLE.format(bigserial="BIGSERIAL" if postgres else "INTEGER")
        for statement in filter(str.strip, sql.split(";")):
            await ImportedReceipt.raw(statement)

    async def drop() -> None:
        from wallet.receipts.tables import ImportedReceipt

        await ImportedReceipt.raw("DROP TABLE imported_receipt")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
