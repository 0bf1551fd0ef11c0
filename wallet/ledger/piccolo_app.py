import os

from piccolo.conf.apps import AppConfig

from wallet.ledger.tables import (
    Account,
    AccountMonthEnd,
    ExpiryMonthEnd,
    JournalEntry,
    LiabilityMonth,
    Lot,
    LotMonthEnd,
    SpendMonth,
)

APP_CONFIG = AppConfig(
    app_name="ledger",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[
        Account,
        Lot,
        JournalEntry,
        SpendMonth,
        LiabilityMonth,
        LotMonthEnd,
        # Listed so every table is known (the tests empty each one between tests): both
        # are made by migration 2026-12-02T01:00:12, as lot_month_end was by its own.
        AccountMonthEnd,
        ExpiryMonthEnd,
    ],
    migration_dependencies=[],
)
