import os

from piccolo.conf.apps import AppConfig

from wallet.rules.tables import ProgramRules

APP_CONFIG = AppConfig(
    app_name="rules",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[ProgramRules],
    migration_dependencies=[],
)
