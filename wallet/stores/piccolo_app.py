import os

from piccolo.conf.apps import AppConfig

from wallet.stores.tables import Store

APP_CONFIG = AppConfig(
    app_name="stores",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Store],
    migration_dependencies=[],
)
