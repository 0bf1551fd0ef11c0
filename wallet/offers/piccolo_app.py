import os

from piccolo.conf.apps import AppConfig

from wallet.offers.tables import BurnReminder, GoalMonth, Offer, OfferEnrolment, SpendMonth

APP_CONFIG = AppConfig(
    app_name="offers",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Offer, OfferEnrolment, GoalMonth, SpendMonth, BurnReminder],
    migration_dependencies=["wallet.ledger.piccolo_app"],
)
