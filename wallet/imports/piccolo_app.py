import os

from piccolo.conf.apps import AppConfig

from wallet.imports.tables import ImportKey, ImportRun

APP_CONFIG = AppConfig(
    app_name="imports",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[ImportKey, ImportRun],
    migration_dependencies=["wallet.members.piccolo_app"],
)
