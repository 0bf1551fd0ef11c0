from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Float,
    ForeignKey,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from wallet.members.tables import Card
from wallet.stores.tables import Store


class Receipt(Table, tablename="receipt"):
    id = BigSerial(primary_key=True)
    store = ForeignKey(references=Store)
    external_id = Varchar(length=64)
    # "<store id>:<receipt id>", unique: the till's receipt id is unique per store, and the
    # one-column key is what makes a retried post find the first one (Piccolo has no
    # composite unique constraints).
    store_key = Varchar(length=100, unique=True)
    card = ForeignKey(references=Card, index=True)
    account_id = Integer(index=True)
    occurred_at = Timestamptz(index=True)
    posted_at = Timestamptz(default=TimestamptzNow())
    request_hash = Varchar(length=64)
    total_kopecks = BigInt()
    paid_kopecks = BigInt()
    redeemed_points = BigInt()
    earned_points = BigInt()
    # The lot this receipt's points went into, and what returns have given back so far.
    earned_lot_id = BigInt(null=True, default=None)
    refunded_points = BigInt(default=0)
    rules_id = Integer()
    result = JSON()


class ReceiptLine(Table, tablename="receipt_line"):
    id = BigSerial(primary_key=True)
    receipt = ForeignKey(references=Receipt, index=True)
    line_no = Integer()
    sku = Varchar(length=64)
    category = Varchar(length=64)
    quantity = Float()
    amount_kopecks = BigInt()
    # The part of the line paid with points, in kopecks (points x point value, spread over
    # the lines points may pay, in proportion to their amounts).
    redeemed_kopecks = BigInt()
    earned_points = BigInt()
    returned_kopecks = BigInt(default=0)
    returned_redeemed_kopecks = BigInt(default=0)
    returned_earned_points = BigInt(default=0)
    brand = Varchar(length=64, null=True, default=None)
    # Money off the line as sold: promotions', the tier's and the cashier's (the part that
    # is no promotion's, the tier's and the cashier's, in ``manual_discount_kopecks``, given
    # back in proportion when the line comes back; promotions are re-priced instead).
    discount_kopecks = BigInt(default=0)
    manual_discount_kopecks = BigInt(default=0)


class ReceiptReturn(Table, tablename="receipt_return"):
    id = BigSerial(primary_key=True)
    receipt = ForeignKey(references=Receipt, index=True)
    external_id = Varchar(length=64)
    store_key = Varchar(length=100, unique=True)
    occurred_at = Timestamptz()
    request_hash = Varchar(length=64)
    result = JSON()
    created_at = Timestamptz(default=TimestamptzNow())


class ReceiptPromotion(Table, tablename="receipt_promotion"):
    """A promotion a receipt applied: what it gave, what returns took back, and the lot of
    its points. A return re-prices the kept goods with the promotion's definition, read
    from ``promotion``: a definition never changes once created (there is no edit; a new
    rule is a new promotion), so a copy per receipt was 500 bytes per promotion per
    receipt for nothing. Rows written before migration 2026-12-04T05:00:00 keep their
    copy in ``definition``, which a return prefers."""

    id = BigSerial(primary_key=True)
    # No foreign key and no index on the promotion (migration 2026-12-01T00:10:00): the
    # rows are written only right after their receipt, in its transaction, and the key's
    # check and the index were ten lookups and ten entries on a receipt with ten promotions.
    receipt = BigInt(index=True)
    promotion_id = Integer()
    name = Varchar(length=200)
    definition = JSON(null=True, default=None)
    discount_kopecks = BigInt(default=0)
    points = BigInt(default=0)
    returned_discount_kopecks = BigInt(default=0)
    returned_points = BigInt(default=0)
    lot_id = BigInt(null=True, default=None)
    # The per-shopper budget row it counted on, to give back on a return.
    use_key = Varchar(length=100, null=True, default=None)


class SpendCode(Table, tablename="spend_code"):
    """A code that lets a till spend points on a shopper it found by phone (see
    ``spend_codes.py``). The code itself is not kept: it is an HMAC of ``nonce``."""

    id = BigSerial(primary_key=True)
    account_id = Integer(index=True)
    nonce = Varchar(length=32)
    tries = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    used_at = Timestamptz(null=True, default=None)
    # The receipt (``<store id>:<receipt id>``) that used it: its retry gets the first reply.
    used_for = Varchar(length=100, null=True, default=None)


class ImportedReceipt(Table, tablename="imported_receipt"):
    """A purchase of the shopper's previous program, brought by ``wallet import receipts``:
    not a receipt of ours (no store, lines or points here; they earned points there), kept
    so the shopper's history shows it, marked as from the old program. ``old_id`` is the
    old system's receipt id."""

    id = BigSerial(primary_key=True)
    account_id = Integer(index=True)
    old_id = Varchar(length=64)
    occurred_at = Timestamptz()
    paid_kopecks = BigInt()
    category = Varchar(length=64, default="")
    created_at = Timestamptz(default=TimestamptzNow())
