"""``delivery.consent_id``: the consent row that allowed each marketing message."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T14:12:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "delivery.consent_id"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Delivery",
        tablename="delivery",
        column_name="consent_id",
        db_column_name="consent_id",
        column_class_name="BigInt",
        column_class=BigInt,
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
