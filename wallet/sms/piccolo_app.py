import os

from piccolo.conf.apps import AppConfig

from wallet.sms.tables import SmsMessage

APP_CONFIG = AppConfig(
    app_name="sms",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[SmsMessage],
    migration_dependencies=["wallet.platform.piccolo_app"],
)
