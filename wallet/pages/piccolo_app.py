import os

from piccolo.conf.apps import AppConfig

from wallet.pages.tables import PageSession, SendEvent, SignInCode

APP_CONFIG = AppConfig(
    app_name="pages",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[SignInCode, SendEvent, PageSession],
    migration_dependencies=["wallet.members.piccolo_app"],
)
