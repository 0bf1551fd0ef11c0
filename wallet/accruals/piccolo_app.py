import os

from piccolo.conf.apps import AppConfig

from wallet.accruals.tables import Accrual, AccrualCredit

APP_CONFIG = AppConfig(
    app_name="accruals",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Accrual, AccrualCredit],
    migration_dependencies=["wallet.ledger.piccolo_app"],
)
