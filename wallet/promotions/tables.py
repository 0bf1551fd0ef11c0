from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    ForeignKey,
    Integer,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from wallet.stores.tables import Store


class Promotion(Table, tablename="promotion"):
    """A promotion as a marketer saved it; ``definition`` is ``schemas.Definition``.

    The budget columns are the promotion's totals and what receipts used of them: a
    receipt takes its part with one conditional UPDATE in its own transaction, so two
    tills never spend the same remainder."""

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    # draft, active, paused, ended
    status = Varchar(length=16, default="draft", index=True)
    definition = JSON()
    budget_points = BigInt(null=True, default=None)
    budget_kopecks = BigInt(null=True, default=None)
    used_points = BigInt(default=0)
    used_kopecks = BigInt(default=0)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class PromotionVersion(Table, tablename="promotion_version"):
    """One row: bumped by every change to the set of active promotions, read by each
    receipt to know whether its process's cached set is still the current one."""

    id = Integer(primary_key=True)
    version = BigInt(default=0)


class PromotionShopperUse(Table, tablename="promotion_shopper_use"):
    """What one shopper got from a promotion in one period (its per-shopper budget)."""

    id = BigSerial(primary_key=True)
    # "<promotion>:<account>:<period>", unique (Piccolo has no composite unique keys).
    use_key = Varchar(length=100, unique=True)
    promotion_id = Integer(index=True)
    account_id = Integer()
    points = BigInt(default=0)
    kopecks = BigInt(default=0)


class ManualDiscountPolicy(Table, tablename="manual_discount_policy"):
    """How much a cashier may take off a line by hand at one store, and why."""

    id = Serial(primary_key=True)
    store = ForeignKey(references=Store, unique=True)
    max_line_share_bp = Integer()
    reasons = JSON()
