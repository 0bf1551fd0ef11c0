"""Piccolo's configuration: the engine comes from ``WALLET_DATABASE_URL`` (wallet.settings).

Each domain is a Piccolo app with its own tables and migrations; a new domain adds its
app here.
"""

from piccolo.conf.apps import AppRegistry

from wallet import settings
from wallet.db import make_engine

DB = make_engine(settings.get().database_url)

APP_REGISTRY = AppRegistry(
    apps=[
        "wallet.stores.piccolo_app",
        "wallet.rules.piccolo_app",
        "wallet.ledger.piccolo_app",
        "wallet.members.piccolo_app",
        "wallet.promotions.piccolo_app",
        "wallet.receipts.piccolo_app",
        "wallet.auth.piccolo_app",
        "wallet.platform.piccolo_app",
        "wallet.plastic.piccolo_app",
        "wallet.signin.piccolo_app",
        "wallet.offers.piccolo_app",
        "wallet.bonuses.piccolo_app",
        "wallet.passsync.piccolo_app",
        "wallet.segments.piccolo_app",
        "wallet.koshelek.piccolo_app",
        "wallet.campaigns.piccolo_app",
        "wallet.sms.piccolo_app",
        "wallet.accruals.piccolo_app",
        "wallet.imports.piccolo_app",
        "wallet.webhooks.piccolo_app",
    ]
)
