"""Spend codes: a till that found the shopper by phone needs one to spend their points
(``wallet/receipts/spend_codes.py``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T23:30:04:000003"
VERSION = "1.38.0"
DESCRIPTION = "spend_code"

_TABLE = """
CREATE TABLE spend_code (
    id {bigserial} PRIMARY KEY,
    account_id INTEGER NOT NULL,
    nonce VARCHAR(32) NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ NULL DEFAULT NULL,
    used_for VARCHAR(100) NULL DEFAULT NULL
);
CREATE INDEX spend_code_account_id ON spend_code (account_id)
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="receipts", description=DESCRIPTION)

    async def create() -> None:
        from wallet.receipts.tables import SpendCode

        postgres = SpendCode._meta.db.engine_type == "postgres"
        sql = _TABLE.format(bigserial="BIGSERIAL" if postgres else "INTEGER")
        for statement in filter(str.strip, sql.split(";")):
            await SpendCode.raw(statement)

    async def drop() -> None:
        from wallet.receipts.tables import SpendCode

        await SpendCode.raw("DROP TABLE spend_code")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
