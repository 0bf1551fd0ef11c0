"""Totals at each recorded month end, so a past liability no longer groups the month's
lots (2.5-3.5 million at 1,000,000 accounts) each time it is asked for:
``account_month_end`` (each account's points available and pending then, and its debt)
and ``expiry_month_end`` (the month end's lots summed by the calendar month they expire
in). The month-end lots get an index on their expiry and on their availability: the lots
that expired or matured between a month end and the moment are read by them.

The month ends recorded so far are cleared: they are sums of the journal, recorded again
with their totals by the worker's next month-end job and by ``wallet record-liability
--since YYYY-MM``; until then a past liability reads the whole journal (the same figures).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T01:00:12:000000"
VERSION = "1.38.0"
DESCRIPTION = "month-end totals per account and per expiry month (liability snapshot)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def create() -> None:
        from wallet.ledger.tables import Account

        postgres = Account._meta.db.engine_type == "postgres"
        big = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        await Account.raw(
            f"CREATE TABLE IF NOT EXISTS account_month_end (id {big}, "
            "month VARCHAR(7) NOT NULL, account_id BIGINT NOT NULL, "
            "balance BIGINT NOT NULL, pending BIGINT NOT NULL, debt BIGINT NOT NULL)"
        )
        await Account.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS account_month_end_month_account "
            "ON account_month_end (month, account_id)"
        )
        await Account.raw(
            f"CREATE TABLE IF NOT EXISTS expiry_month_end (id {big}, "
            "month VARCHAR(7) NOT NULL, expiry_month VARCHAR(7) NOT NULL, "
            "expires_from TIMESTAMPTZ NOT NULL, expires_before TIMESTAMPTZ NOT NULL, "
            "points BIGINT NOT NULL)"
        )
        await Account.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS expiry_month_end_month_expiry "
            "ON expiry_month_end (month, expiry_month)"
        )
        await Account.raw("DELETE FROM lot_month_end")
        await Account.raw("DELETE FROM liability_month")
        # (month, expires_at) serves every lookup by month.
        await Account.raw("DROP INDEX IF EXISTS lot_month_end_month")
        await Account.raw(
            "CREATE INDEX IF NOT EXISTS lot_month_end_month_expires "
            "ON lot_month_end (month, expires_at)"
        )
        await Account.raw(
            "CREATE INDEX IF NOT EXISTS lot_month_end_month_available "
            "ON lot_month_end (month, available_from)"
        )

    async def drop() -> None:
        from wallet.ledger.tables import Account

        for table in ("account_month_end", "expiry_month_end"):
            await Account.raw(f"DROP TABLE IF EXISTS {table}")
        await Account.raw("DROP INDEX IF EXISTS lot_month_end_month_expires")
        await Account.raw("DROP INDEX IF EXISTS lot_month_end_month_available")
        await Account.raw(
            "CREATE INDEX IF NOT EXISTS lot_month_end_month ON lot_month_end (month)"
        )

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
