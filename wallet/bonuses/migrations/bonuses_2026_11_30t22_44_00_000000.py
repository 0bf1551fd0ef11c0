"""Event bonuses: ``bonus_settings`` (versions a marketer saves), ``bonus_award`` (each
bonus paid, unique on what it is for) and ``referral`` (who joined with whose code, unique
per new account and per hashed phone and email)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T22:44:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bonus_settings, bonus_award, referral"

TABLES = {
    "bonus_settings": "settings JSON NOT NULL, "
    "created_by VARCHAR(100) NOT NULL DEFAULT '', created_at {ts} NOT NULL",
    "bonus_award": "award_key VARCHAR(80) NOT NULL UNIQUE, account_id BIGINT NOT NULL, "
    "kind VARCHAR(16) NOT NULL, points BIGINT NOT NULL, taken_back BIGINT NOT NULL DEFAULT 0, "
    "receipt_id BIGINT NULL, lot_id BIGINT NULL, reason TEXT NOT NULL DEFAULT '', "
    "created_at {ts} NOT NULL",
    "referral": "friend_account_id BIGINT NOT NULL UNIQUE, referrer_account_id BIGINT NOT NULL, "
    "phone_key VARCHAR(64) NULL UNIQUE, email_key VARCHAR(64) NULL UNIQUE, "
    "status VARCHAR(10) NOT NULL DEFAULT 'waiting', reason VARCHAR(40) NOT NULL DEFAULT '', "
    "created_at {ts} NOT NULL, rewarded_at {ts} NULL",
}
INDEXES = [
    ("bonus_award", "account_id"),
    ("bonus_award", "receipt_id"),
    ("referral", "referrer_account_id"),
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="bonuses", description=DESCRIPTION)

    async def create() -> None:
        from wallet.bonuses.tables import BonusAward

        postgres = BonusAward._meta.db.engine_type == "postgres"
        key = "BIGSERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        for table, columns in TABLES.items():
            # The type names Piccolo gives its columns: SQLite converts values by them.
            body = columns.replace("{ts}", "TIMESTAMPTZ")
            await BonusAward.raw(f"CREATE TABLE IF NOT EXISTS {table} (id {key}, {body})")
        for table, column in INDEXES:
            await BonusAward.raw(
                f"CREATE INDEX IF NOT EXISTS {table}_{column} ON {table} ({column})"
            )

    async def drop() -> None:
        from wallet.bonuses.tables import BonusAward

        for table in TABLES:
            await BonusAward.raw(f"DROP TABLE IF EXISTS {table}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
