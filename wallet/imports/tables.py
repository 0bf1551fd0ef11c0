from piccolo.columns import BigInt, BigSerial, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class ImportKey(Table, tablename="import_key"):
    """One row of an old program's file that was imported, by the old system's id: a
    second run of the file finds it here and changes nothing.

    ``key`` is "<kind>:<old id>" (members, cards, balances, receipts); ``new_id`` what it
    became here (member, card or lot id; none for a receipt, which adds spend and is kept
    apart, in ``imported_receipt``, for the shopper's history);
    ``account_id`` the account it belongs to (cards and balances find members by it).
    """

    id = BigSerial(primary_key=True)
    key = Varchar(length=80, unique=True)
    new_id = BigInt(null=True, default=None)
    account_id = BigInt(null=True, default=None)
    run_id = Integer()
    created_at = Timestamptz(default=TimestamptzNow())


class ImportRun(Table, tablename="import_run"):
    """One import of one file: how far it got (committed with each batch), so a run that
    crashed resumes after the last batch it committed."""

    id = Serial(primary_key=True)
    kind = Varchar(length=10)
    file_name = Varchar(length=255, default="")
    file_sha256 = Varchar(length=64)
    # running or done
    status = Varchar(length=10, default="running")
    lines_done = Integer(default=0)
    imported = Integer(default=0)
    skipped = Integer(default=0)
    actor = Varchar(length=100, default="")
    started_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
