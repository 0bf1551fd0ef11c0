import os

from piccolo.conf.apps import AppConfig

from wallet.auth.tables import ApiKey, ShopperToken, TillSession

APP_CONFIG = AppConfig(
    app_name="auth",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[ApiKey, ShopperToken, TillSession],
    migration_dependencies=["wallet.members.piccolo_app"],
)
