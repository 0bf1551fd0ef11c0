"""Data rights (152-FZ): ``member.erased_at`` and the consent trail ``member_consent``.

Existing members get their trail from what the member row already proves: consent to the
program and to data processing at joining, and each marketing opt-in at its time (source
"migration"), so deliveries made from now on can name the row that allowed them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import BigSerial, Boolean, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-11-30T14:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member.erased_at and member_consent"


class Consent(Table, tablename="member_consent"):
    # Frozen here as it was when this migration was written.
    id = BigSerial(primary_key=True)
    member_id = Integer(index=True)
    channel = Varchar(length=20)
    granted = Boolean()
    text_version = Varchar(length=32, default="")
    source = Varchar(length=20, default="")
    created_at = Timestamptz(default=TimestamptzNow())


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Member",
        tablename="member",
        column_name="erased_at",
        db_column_name="erased_at",
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

    async def create_trail() -> None:
        await Consent.create_table(if_not_exists=True)
        for channel, granted, at, version in (
            ("program", "TRUE", "consent_program_at", "consent_program_version"),
            ("personal_data", "TRUE", "consent_data_at", "consent_data_version"),
            ("marketing_email", "marketing_email", "marketing_email_at", "''"),
            ("marketing_push", "marketing_push", "marketing_push_at", "''"),
        ):
            await Consent.raw(
                "INSERT INTO member_consent (member_id, channel, granted, text_version, "
                f"source, created_at) SELECT id, '{channel}', {granted}, {version}, "
                f"'migration', COALESCE({at}, created_at) FROM member WHERE {at} IS NOT NULL"
            )

    async def drop_trail() -> None:
        await Consent.alter().drop_table(if_exists=True)

    manager.add_raw(create_trail)
    manager.add_raw_backwards(drop_trail)
    return manager
