"""``program_rules.tier_basis`` and ``tier_window_months``: tiers that qualify on a rolling
window or a calendar period. Every existing version gets "lifetime", the behaviour so far.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T22:42:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "program_rules.tier_basis, tier_window_months"


def _params(default: object, **extra: object) -> dict[str, object]:
    return {
        "default": default,
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **extra,
    }


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="rules", description=DESCRIPTION)
    manager.add_column(
        table_class_name="ProgramRules",
        tablename="program_rules",
        column_name="tier_basis",
        db_column_name="tier_basis",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params("lifetime", length=10),
        schema=None,
    )
    manager.add_column(
        table_class_name="ProgramRules",
        tablename="program_rules",
        column_name="tier_window_months",
        db_column_name="tier_window_months",
        column_class_name="Integer",
        column_class=Integer,
        params=_params(12),
        schema=None,
    )
    return manager
