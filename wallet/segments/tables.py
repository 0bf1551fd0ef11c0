"""Saved segments and the nightly RFM scores of accounts (this domain's read model).

Accounts are referred to by id, with no foreign key into the ledger: scores are rebuilt
every night and a segment is only a saved filter.
"""

from piccolo.columns import JSON, BigInt, Integer, Serial, Timestamptz, Varchar
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
