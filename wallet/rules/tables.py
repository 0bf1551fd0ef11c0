from piccolo.columns import JSON, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class ProgramRules(Table, tablename="program_rules"):
    """One version of the program's rules; the version in force at T has the latest
    ``effective_from`` not after T. Versions are never edited, only superseded."""

    id = Serial(primary_key=True)
    effective_from = Timestamptz(index=True)
    program_name = Varchar(length=200, default="")
    earn_rate_bp = Integer()
    # [{"name": ..., "min_spend_kopecks": ..., "earn_rate_bp": ...}], sorted by threshold.
    tiers = JSON(default="[]")
    no_earn_categories = JSON(default="[]")
    no_redeem_categories = JSON(default="[]")
    max_redeem_share_bp = Integer()
    validity_months = Integer()
    pending_days = Integer(default=0)
    point_value_kopecks = Integer(default=100)
    # What a tier qualifies on: "lifetime" (all money ever paid), "rolling" (the last
    # ``tier_window_months`` months, this one included) or "calendar" (this calendar year,
    # or last year's, whichever is higher: a tier reached holds to the end of next year).
    tier_basis = Varchar(length=10, default="lifetime")
    tier_window_months = Integer(default=12)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
