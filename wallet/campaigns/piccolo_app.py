import os

from piccolo.conf.apps import AppConfig

from wallet.campaigns.tables import Campaign, Delivery

APP_CONFIG = AppConfig(
    app_name="campaigns",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Campaign, Delivery],
    migration_dependencies=["wallet.segments.piccolo_app"],
)
