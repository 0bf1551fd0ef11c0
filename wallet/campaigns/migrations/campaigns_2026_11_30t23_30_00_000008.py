"""``campaign.cancelled_by``: who cancelled a campaign, shown beside when."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T23:30:00:000008"
VERSION = "1.38.0"
DESCRIPTION = "campaign.cancelled_by"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="campaigns", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Campaign",
        tablename="campaign",
        column_name="cancelled_by",
        db_column_name="cancelled_by",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": "",
            "null": False,
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
