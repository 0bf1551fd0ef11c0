"""``pass_registration.push_due``: which devices a sweep has to tell, found by index.

The sweep used to find due devices by comparing every registration's ``pushed_tag`` with
its pass's tag: a join over every registration for each batch of 500, so a campaign to
100,000 passes read the table 200 times. The flag is set where the tag changes and read
through a partial index. Devices already behind their pass are flagged by the next migration (Piccolo runs a
migration's raw steps before its columns).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T21:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pass_registration.push_due"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="passsync", description=DESCRIPTION)

    manager.add_column(
        table_class_name="PassRegistration",
        tablename="pass_registration",
        column_name="push_due",
        db_column_name="push_due",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
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
