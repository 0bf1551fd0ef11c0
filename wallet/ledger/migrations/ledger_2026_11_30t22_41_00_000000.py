"""``account_spend_month``: money paid per account and month, for tiers that qualify on a
rolling window or a calendar period instead of the lifetime spend.

Empty here; the receipts app's migration of the same day fills it from the receipts and
returns already posted (the receipt tables are created after the ledger's).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T22:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "account_spend_month"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def create() -> None:
        from wallet.ledger.tables import Account

        postgres = Account._meta.db.engine_type == "postgres"
        key = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        await Account.raw(
            f"CREATE TABLE IF NOT EXISTS account_spend_month (id {key}, "
            "spend_key VARCHAR(40) NOT NULL UNIQUE, account_id BIGINT NOT NULL, "
            "month VARCHAR(7) NOT NULL, spent_kopecks BIGINT NOT NULL DEFAULT 0)"
        )
        await Account.raw(
            "CREATE INDEX IF NOT EXISTS account_spend_month_account_id "
            "ON account_spend_month (account_id)"
        )

    async def drop() -> None:
        from wallet.ledger.tables import Account

        await Account.raw("DROP TABLE IF EXISTS account_spend_month")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
