"""Saved segments, the nightly RFM scores of accounts, and each account's tier and RFM group
at every month end (this domain's read model).

Accounts are referred to by id, with no foreign key into the ledger: scores are rebuilt
every night, a segment is only a saved filter, and a month-end record outlives a merged
account (it is history).
"""

from piccolo.columns import JSON, BigInt, BigSerial, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Segment(Table, tablename="segment"):
    """A marketer's saved filter over shoppers (see ``schemas.SegmentFilter``)."""

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    filter = JSON(default="{}")
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class RfmScore(Table, tablename="rfm_score"):
    """Recency, frequency and monetary quintiles (1..5, 0 = no purchase in the window) of
    one account, and the group they name; rewritten by the nightly job."""

    id = Serial(primary_key=True)
    account_id = Integer(unique=True)
    r = Integer(default=0)
    f = Integer(default=0)
    m = Integer(default=0)
    frequency = Integer(default=0)
    monetary_kopecks = BigInt(default=0)
    last_purchase_at = Timestamptz(null=True, default=None)
    rfm_group = Varchar(length=16, index=True)
    scored_at = Timestamptz(default=TimestamptzNow())


class StandingMonth(Table, tablename="standing_month"):
    """A month end whose standings are recorded (one row per month: a rerun of the month-end
    job finds it and writes nothing). ``as_of`` is the instant the month ended."""

    id = Serial(primary_key=True)
    month = Varchar(length=7, unique=True)
    as_of = Timestamptz()
    accounts = Integer(default=0)
    recorded_at = Timestamptz(default=TimestamptzNow())


class AccountStanding(Table, tablename="account_standing_month"):
    """An account's tier and RFM group at a month end, and the ones it had at the month end
    before (``prev_*``: NULL when it did not exist then, or that month was not recorded).

    The tier is stored by name with its threshold then (``tier_floor_kopecks``), so a move up
    or down still reads right after the ladder is renamed or re-priced. ``rfm_group`` is
    NULL for an account with no shopper (an anonymous plastic card). Unique on
    (month, account_id) (migration 2026-11-30T17:21:00)."""

    id = BigSerial(primary_key=True)
    month = Varchar(length=7)
    account_id = BigInt()
    tier = Varchar(length=100)
    tier_floor_kopecks = BigInt(default=0)
    rfm_group = Varchar(length=16, null=True, default=None)
    prev_tier = Varchar(length=100, null=True, default=None)
    prev_floor_kopecks = BigInt(null=True, default=None)
    prev_rfm_group = Varchar(length=16, null=True, default=None)


class StandingMoves(Table, tablename="standing_month_moves"):
    """``account_standing_month`` of one month counted by (before, after) tier and group:
    a year of month ends at a million accounts is twelve million rows, while a report
    reads these few hundred."""

    id = Serial(primary_key=True)
    month = Varchar(length=7, index=True)
    prev_tier = Varchar(length=100, null=True, default=None)
    prev_floor_kopecks = BigInt(null=True, default=None)
    tier = Varchar(length=100)
    tier_floor_kopecks = BigInt(default=0)
    prev_rfm_group = Varchar(length=16, null=True, default=None)
    rfm_group = Varchar(length=16, null=True, default=None)
    accounts = Integer(default=0)
