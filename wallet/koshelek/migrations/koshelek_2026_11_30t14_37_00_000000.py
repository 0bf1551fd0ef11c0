"""Cards issued in «Кошелёк» and the pushes sent through it (issue 18)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T14:37:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "koshelek_card and koshelek_push"

_TABLES = """
CREATE TABLE koshelek_card (
    id {serial} PRIMARY KEY,
    account_id INTEGER NOT NULL UNIQUE,
    card_number VARCHAR(20) NOT NULL,
    msisdn VARCHAR(16) NOT NULL DEFAULT '',
    marketing_sms BOOLEAN NULL DEFAULT NULL,
    marketing_call BOOLEAN NULL DEFAULT NULL,
    issued_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE koshelek_push (
    id {bigserial} PRIMARY KEY,
    message_id VARCHAR(64) NULL DEFAULT NULL UNIQUE,
    account_id INTEGER NOT NULL,
    push_type VARCHAR(12) NOT NULL,
    delivery_id BIGINT NULL DEFAULT NULL,
    state VARCHAR(24) NOT NULL,
    sent_at {ts} NOT NULL,
    delivered_at {ts} NULL DEFAULT NULL,
    opened_at {ts} NULL DEFAULT NULL
);
CREATE INDEX koshelek_push_account_id ON koshelek_push (account_id, push_type, sent_at);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="koshelek", description=DESCRIPTION)

    async def create() -> None:
        from wallet.koshelek.tables import KoshelekCard

        postgres = KoshelekCard._meta.db.engine_type == "postgres"
        sql = _TABLES.format(
            serial="SERIAL" if postgres else "INTEGER",
            bigserial="BIGSERIAL" if postgres else "INTEGER",
            ts="TIMESTAMPTZ",
        )
        for statement in filter(str.strip, sql.split(";")):
            await KoshelekCard.raw(statement)

    async def drop() -> None:
        from wallet.koshelek.tables import KoshelekCard

        await KoshelekCard.raw("DROP TABLE koshelek_push")
        await KoshelekCard.raw("DROP TABLE koshelek_card")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
