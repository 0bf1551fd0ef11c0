import os

from piccolo.conf.apps import AppConfig

from wallet.segments.tables import (
    AccountStanding,
    RfmScore,
    Segment,
    StandingMonth,
    StandingMoves,
)

APP_CONFIG = AppConfig(
    app_name="segments",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Segment, RfmScore, StandingMonth, AccountStanding, StandingMoves],
    migration_dependencies=["wallet.members.piccolo_app", "wallet.receipts.piccolo_app"],
)
