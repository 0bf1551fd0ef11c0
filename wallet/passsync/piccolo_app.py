import os

from piccolo.conf.apps import AppConfig

from wallet.passsync.tables import (
    GoogleMessage,
    GoogleObject,
    PassCard,
    PassRegistration,
    PassTagCounter,
)

APP_CONFIG = AppConfig(
    app_name="passsync",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[PassCard, PassTagCounter, PassRegistration, GoogleObject, GoogleMessage],
    migration_dependencies=["wallet.members.piccolo_app"],
)
