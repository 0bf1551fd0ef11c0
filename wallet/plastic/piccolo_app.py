import os

from piccolo.conf.apps import AppConfig

from wallet.plastic.tables import ActivationFailure, PlasticCode

APP_CONFIG = AppConfig(
    app_name="plastic",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[PlasticCode, ActivationFailure],
    migration_dependencies=["wallet.members.piccolo_app"],
)
