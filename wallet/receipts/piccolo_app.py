import os

from piccolo.conf.apps import AppConfig

from wallet.receipts.tables import (
    ImportedReceipt,
    Receipt,
    ReceiptLine,
    ReceiptPromotion,
    ReceiptReturn,
    SpendCode,
)

APP_CONFIG = AppConfig(
    app_name="receipts",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[
        Receipt,
        ReceiptLine,
        ReceiptReturn,
        ReceiptPromotion,
        SpendCode,
        ImportedReceipt,
    ],
    migration_dependencies=["wallet.members.piccolo_app", "wallet.stores.piccolo_app"],
)
