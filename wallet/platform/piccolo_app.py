import os

from piccolo.conf.apps import AppConfig

from wallet.platform.tables import AuditEvent, IdempotencyRecord, OutboxJob, ScheduleSlot

APP_CONFIG = AppConfig(
    app_name="platform",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[OutboxJob, IdempotencyRecord, AuditEvent, ScheduleSlot],
    migration_dependencies=[],
)
