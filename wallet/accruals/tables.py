"""Bulk and scheduled accruals: a marketer's credit or debit of a saved segment, once or
monthly, and one row per account per run (its unique ``credit_key`` is what keeps a rerun
or a crash from crediting anyone twice)."""

from piccolo.columns import BigInt, BigSerial, Boolean, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Accrual(Table, tablename="accrual"):
    id = Serial(primary_key=True)
    name = Varchar(length=200)
    segment_id = Integer(index=True)
    # Credited when above 0 (a lot valid ``valid_days``), debited when below (never past
    # the balance: an account holding less gives what it holds).
    points = Integer()
    valid_days = Integer(default=30)
    reason = Varchar(length=500)
    repeat = Varchar(length=16, default="once")
    # Email each moved shopper who consented to marketing email (after the run commits).
    notify_email = Boolean(default=False)
    # scheduled -> (run) -> done, or back to scheduled for the next month; cancelled.
    status = Varchar(length=16, default="scheduled", index=True)
    next_run_at = Timestamptz(null=True, default=None)
    runs = Integer(default=0)
    last_run_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class AccrualCredit(Table, tablename="accrual_credit"):
    id = BigSerial(primary_key=True)
    # "<accrual>:<run>:<account>": written with the account's ledger movement, in its
    # transaction; a second attempt at the same run finds it and moves nothing.
    credit_key = Varchar(length=60, unique=True)
    accrual_id = Integer(index=True)
    run_no = Integer()
    account_id = Integer(index=True)
    points = BigInt()
    created_at = Timestamptz(default=TimestamptzNow())
