"""``offer.eligible_segment_ids``: saved segments ("groups") whose shoppers may opt in.

Every existing offer gets ``[]``: no group restriction, as before. The id follows the
fillfactor migration's, so the folder reads in the order the changes were made.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-24T19:36:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "offer.eligible_segment_ids"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="offers", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Offer",
        tablename="offer",
        column_name="eligible_segment_ids",
        db_column_name="eligible_segment_ids",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": "[]",
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
