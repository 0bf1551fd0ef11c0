import os

from piccolo.conf.apps import AppConfig

from wallet.koshelek.tables import KoshelekCard, KoshelekPush

APP_CONFIG = AppConfig(
    app_name="koshelek",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[KoshelekCard, KoshelekPush],
    migration_dependencies=["wallet.members.piccolo_app"],
)
