"""Month-end lots for the liability at a past moment: ``liability_month`` (the recorded
month ends, unique per month so a rerun writes nothing) and ``lot_month_end`` (each
account's live lots and debt then, read by month).

Empty here: the worker's month-end job fills them from the month that just ended on
(``wallet record-liability`` fills earlier months from the journal).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T23:47:35:000000"
VERSION = "1.38.0"
DESCRIPTION = "month-end lots (liability snapshot)"

TABLES = ("lot_month_end", "liability_month")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def create() -> None:
        from wallet.ledger.tables import Account

        postgres = Account._meta.db.engine_type == "postgres"
        key = "SERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        big = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        await Account.raw(
            f"CREATE TABLE IF NOT EXISTS liability_month (id {key}, "
            "month VARCHAR(7) NOT NULL UNIQUE, as_of TIMESTAMPTZ NOT NULL, "
            "last_entry BIGINT NOT NULL DEFAULT 0, rows BIGINT NOT NULL DEFAULT 0, recorded_at TIMESTAMPTZ NOT NULL)"
        )
        await Account.raw(
            f"CREATE TABLE IF NOT EXISTS lot_month_end (id {big}, "
            "month VARCHAR(7) NOT NULL, account_id BIGINT NOT NULL, lot_id BIGINT, "
            "points BIGINT NOT NULL, expires_at TIMESTAMPTZ, available_from TIMESTAMPTZ)"
        )
        await Account.raw(
            "CREATE INDEX IF NOT EXISTS lot_month_end_month ON lot_month_end (month)"
        )

    async def drop() -> None:
        from wallet.ledger.tables import Account

        for table in TABLES:
            await Account.raw(f"DROP TABLE IF EXISTS {table}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
