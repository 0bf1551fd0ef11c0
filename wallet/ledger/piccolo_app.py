import os

from piccolo.conf.apps import AppConfig

from wallet.ledger.tables import (
    Account,
    JournalEntry,
    LiabilityMonth,
    Lot,
    LotMonthEnd,
    SpendMonth,
)

APP_CONFIG = AppConfig(
    app_name="ledger",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Account, Lot, JournalEntry, SpendMonth, LiabilityMonth, LotMonthEnd],
    migration_dependencies=[],
)
