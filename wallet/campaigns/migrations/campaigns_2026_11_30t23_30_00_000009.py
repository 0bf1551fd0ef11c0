"""``delivery.clicked_at``: when the shopper first followed a link of the campaign's email."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T23:30:00:000009"
VERSION = "1.38.0"
DESCRIPTION = "delivery.clicked_at"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Delivery",
        tablename="delivery",
        column_name="clicked_at",
        db_column_name="clicked_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
