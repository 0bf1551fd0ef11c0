from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
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
    tills never spend the same remainder.

    ``definition`` never changes once created (there is no edit; a new rule is a new
    promotion): a return re-prices a receipt with it, and ``receipt_promotion`` keeps no
    copy. Letting a definition change would need revisions those rows point at."""

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


class CouponBatch(Table, tablename="coupon_batch"):
    """Codes a marketer made for one promotion: ``size`` unique single-use codes, or one
    shared ``code`` (``shared``), with their validity and limits.

    ``used`` counts the uses not given back, against ``total_limit`` (one conditional
    UPDATE per use). ``export`` holds the new codes as CSV until the marketer downloads
    them once; then it is emptied and only the codes' hashes remain. ``status`` is
    ``making`` while the worker draws a big batch in chunks (each chunk's codes and their
    CSV lines commit together, so a crash resumes where it stopped), then ``ready``."""

    id = Serial(primary_key=True)
    promotion_id = Integer(index=True)
    shared = Boolean(default=False)
    status = Varchar(length=16, default="ready")
    size = Integer()
    valid_from = Timestamptz(null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    per_shopper_limit = Integer(null=True, default=None)
    total_limit = Integer(null=True, default=None)
    used = Integer(default=0)
    export = Text(null=True, default=None)
    downloaded_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Coupon(Table, tablename="coupon"):
    """One code, by its SHA-256 (``code_hash``, unique): the plain code is never stored,
    except ``shown`` for a personal coupon (``account_id``), which its owner sees on the
    card page and the pass and which works for nobody else. ``uses`` is checked against
    ``max_uses`` (1 for a unique code, none for a shared one) in one conditional UPDATE."""

    id = BigSerial(primary_key=True)
    batch_id = Integer(index=True)
    promotion_id = Integer()
    code_hash = Varchar(length=64, unique=True)
    account_id = Integer(null=True, default=None, index=True)
    shown = Varchar(length=40, null=True, default=None)
    uses = Integer(default=0)
    max_uses = Integer(null=True, default=None)


class CouponUse(Table, tablename="coupon_use"):
    """A coupon used on a receipt; ``returned_at`` once a return gave it back."""

    id = BigSerial(primary_key=True)
    coupon_id = BigInt(index=True)
    batch_id = Integer()
    promotion_id = Integer()
    account_id = Integer(index=True)
    receipt = BigInt(index=True)
    used_at = Timestamptz(default=TimestamptzNow())
    returned_at = Timestamptz(null=True, default=None)
