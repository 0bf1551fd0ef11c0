import os

from piccolo.conf.apps import AppConfig

from wallet.bonuses.tables import BonusAward, BonusSettings, Referral

APP_CONFIG = AppConfig(
    app_name="bonuses",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[BonusSettings, BonusAward, Referral],
    migration_dependencies=["wallet.ledger.piccolo_app"],
)
