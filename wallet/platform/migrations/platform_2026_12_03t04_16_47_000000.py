"""One member's access trail (``GET /api/v1/admin/privacy/access-log?member_id=``) is read by
``subject`` newest first: an index on (subject, id), so it is a seek however long the audit
log grows (it was read as the last 10,000 support events, filtered in Python: an older look
fell out of the report)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-03T04:16:47:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit_event index on (subject, id) for one member's access trail"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="platform", description=DESCRIPTION)

    async def add_index() -> None:
        from wallet.platform.tables import AuditEvent

        await AuditEvent.raw(
            "CREATE INDEX IF NOT EXISTS audit_event_subject_id ON audit_event (subject, id)"
        )

    async def drop_index() -> None:
        from wallet.platform.tables import AuditEvent

        await AuditEvent.raw("DROP INDEX IF EXISTS audit_event_subject_id")

    manager.add_raw(add_index)
    manager.add_raw_backwards(drop_index)
    return manager
