"""Imports from an old program: the old ids imported and each file's progress (issue 15)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T13:05:34:000006"
VERSION = "1.38.0"
DESCRIPTION = "import_key, import_run"

_TABLES = """
CREATE TABLE import_key (
    id {bigserial} PRIMARY KEY,
    key VARCHAR(80) NOT NULL UNIQUE,
    new_id BIGINT NULL DEFAULT NULL,
    account_id BIGINT NULL DEFAULT NULL,
    run_id INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE import_run (
    id {serial} PRIMARY KEY,
    kind VARCHAR(10) NOT NULL,
    file_name VARCHAR(255) NOT NULL DEFAULT '',
    file_sha256 VARCHAR(64) NOT NULL,
    status VARCHAR(10) NOT NULL DEFAULT 'running',
    lines_done INTEGER NOT NULL DEFAULT 0,
    imported INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    actor VARCHAR(100) NOT NULL DEFAULT '',
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NULL DEFAULT NULL
);
CREATE INDEX import_run_file ON import_run (kind, file_sha256, status)
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="imports", description=DESCRIPTION)

    async def create() -> None:
        from wallet.imports.tables import ImportKey

        postgres = ImportKey._meta.db.engine_type == "postgres"
        sql = _TABLES.format(
            bigserial="BIGSERIAL" if postgres else "INTEGER",
            serial="SERIAL" if postgres else "INTEGER",
        )
        for statement in filter(str.strip, sql.split(";")):
            await ImportKey.raw(statement)

    async def drop() -> None:
        from wallet.imports.tables import ImportKey

        await ImportKey.raw("DROP TABLE import_run")
        await ImportKey.raw("DROP TABLE import_key")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
