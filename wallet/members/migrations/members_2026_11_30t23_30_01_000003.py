"""Marketing SMS is a separate opt-in: ``member.marketing_sms`` and when it changed (the
consent trail's rows are ``member_consent`` with channel ``marketing_sms``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T23:30:01:000003"
VERSION = "1.38.0"
DESCRIPTION = "member.marketing_sms"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)

    async def add() -> None:
        from wallet.members.tables import Member

        await Member.raw("ALTER TABLE member ADD COLUMN marketing_sms BOOLEAN NOT NULL DEFAULT false")
        await Member.raw("ALTER TABLE member ADD COLUMN marketing_sms_at TIMESTAMPTZ NULL")

    async def drop() -> None:
        from wallet.members.tables import Member

        await Member.raw("ALTER TABLE member DROP COLUMN marketing_sms_at")
        await Member.raw("ALTER TABLE member DROP COLUMN marketing_sms")

    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
