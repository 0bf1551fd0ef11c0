"""Bulk and scheduled accruals and their per-account credits (frozen copies of the tables,
the way Piccolo's generated migrations freeze them)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import BigInt, BigSerial, Boolean, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

ID = "2026-12-01T13:41:00:000001"
VERSION = "1.38.0"
DESCRIPTION = "accruals"


class Accrual(Table, tablename="accrual"):
    id = Serial(primary_key=True)
    name = Varchar(length=200)
    segment_id = Integer(index=True)
    points = Integer()
    valid_days = Integer(default=30)
    reason = Varchar(length=500)
    repeat = Varchar(length=16, default="once")
    # Email each moved shopper who consented to marketing email (after the run commits).
    notify_email = Boolean(default=False)
    status = Varchar(length=16, default="scheduled", index=True)
    next_run_at = Timestamptz(null=True, default=None)
    runs = Integer(default=0)
    last_run_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class AccrualCredit(Table, tablename="accrual_credit"):
    id = BigSerial(primary_key=True)
    credit_key = Varchar(length=60, unique=True)
    accrual_id = Integer(index=True)
    run_no = Integer()
    account_id = Integer(index=True)
    points = BigInt()
    created_at = Timestamptz(default=TimestamptzNow())


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="accruals", description=DESCRIPTION)

    async def create() -> None:
        await Accrual.create_table(if_not_exists=True)
        await AccrualCredit.create_table(if_not_exists=True)

    async def drop() -> None:
        await AccrualCredit.alter().drop_table(if_exists=True)
        await Accrual.alter().drop_table(if_exists=True)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
