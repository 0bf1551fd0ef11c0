import os

from piccolo.conf.apps import AppConfig

from wallet.members.tables import Card, Consent, Member

APP_CONFIG = AppConfig(
    app_name="members",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Member, Card, Consent],
    migration_dependencies=["wallet.ledger.piccolo_app"],
)
