"""``delivery.started_at`` and ``delivery.doubtful_at``: a message a killed worker had begun
sending is known when its row is claimed again, and counted as maybe sent twice."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T23:31:00:000007"
VERSION = "1.38.0"
DESCRIPTION = "delivery.started_at, delivery.doubtful_at"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)
    for column in ("started_at", "doubtful_at"):
        manager.add_column(
            table_class_name="Delivery",
            tablename="delivery",
            column_name=column,
            db_column_name=column,
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
