import os

from piccolo.conf.apps import AppConfig

from wallet.webhooks.tables import WebhookDelivery, WebhookEndpoint

APP_CONFIG = AppConfig(
    app_name="webhooks",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[WebhookEndpoint, WebhookDelivery],
    migration_dependencies=["wallet.platform.piccolo_app"],
)
