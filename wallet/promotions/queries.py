"""Every hand-written statement of the promotions domain, in ``db.fetch``'s ``$n`` style.

Statements over a list of values take it as an IN list (``{ids}``, filled by ``with_in``):
SQLite has no arrays. Row locks are named (``db.sql(..., lock=...)``), never appended to
the text: SQLite has no ``FOR UPDATE`` and ``db.fetch`` would refuse it."""

from wallet import db


def with_in(sql: str, count: int, first: int = 1) -> str:
    """``sql`` with ``{ids}`` as ``($first, ..., $first+count-1)``."""
    return sql.replace("{ids}", f"({db.marks(count, first)})")


VERSION = "SELECT version FROM promotion_version WHERE id = 1"
BUMP = "UPDATE promotion_version SET version = version + 1 WHERE id = 1 RETURNING version"
INSERT_VERSION = "INSERT INTO promotion_version (id, version) VALUES (1, 1)"
ACTIVE = "SELECT id, name, definition FROM promotion WHERE status = 'active' ORDER BY id"
LIVE = "SELECT id, name, definition FROM promotion WHERE status IN ('active', 'paused') ORDER BY id"

# The budget rows of the promotions a receipt applies, held until the receipt commits.
BUDGETS = (
    "SELECT id, budget_points, budget_kopecks, used_points, used_kopecks FROM promotion "
    "WHERE id IN {ids} ORDER BY id"
)


def budgets(count: int, *, lock: bool) -> db.Sql:
    """``BUDGETS`` for ``count`` promotions; ``lock`` holds them to the end of the
    transaction, so concurrent receipts take turns on what is left."""
    text = with_in(BUDGETS, count)
    return db.sql(text + " {lock}", lock="FOR UPDATE") if lock else db.sql(text)


PROMOTION = db.sql("SELECT * FROM promotion WHERE id = $1")
PROMOTION_LOCKED = db.sql("SELECT * FROM promotion WHERE id = $1 {lock}", lock="FOR UPDATE")
SHOPPER_USES = "SELECT use_key, points, kopecks FROM promotion_shopper_use WHERE use_key IN {ids}"

# Never past the budget, even if a caller forgot the lock: no row back means refused.
CONSUME = (
    "UPDATE promotion SET used_points = used_points + $2, used_kopecks = used_kopecks + $3 "
    "WHERE id = $1 AND (budget_points IS NULL OR used_points + $2 <= budget_points) "
    "AND (budget_kopecks IS NULL OR used_kopecks + $3 <= budget_kopecks) RETURNING id"
)
GIVE_BACK = (
    "UPDATE promotion SET used_points = used_points - $2, used_kopecks = used_kopecks - $3 "
    "WHERE id = $1"
)
SHOPPER_CONSUME = (
    "INSERT INTO promotion_shopper_use (use_key, promotion_id, account_id, points, kopecks) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (use_key) DO UPDATE SET "
    "points = promotion_shopper_use.points + excluded.points, "
    "kopecks = promotion_shopper_use.kopecks + excluded.kopecks"
)
SHOPPER_GIVE_BACK = (
    "UPDATE promotion_shopper_use SET points = points - $2, kopecks = kopecks - $3 "
    "WHERE use_key = $1"
)

# Live counters from what receipts applied (no hot counter row on the till's path).
COUNTERS = (
    "SELECT promotion_id, COUNT(*) AS uses, "
    "COALESCE(SUM(points - returned_points), 0) AS points, "
    "COALESCE(SUM(discount_kopecks - returned_discount_kopecks), 0) AS discount "
    "FROM receipt_promotion GROUP BY promotion_id"
)

KNOWN_CATEGORIES = "SELECT DISTINCT category AS value FROM receipt_line WHERE category IN {ids}"
KNOWN_SKUS = "SELECT DISTINCT sku AS value FROM receipt_line WHERE sku IN {ids}"
KNOWN_BRANDS = "SELECT DISTINCT brand AS value FROM receipt_line WHERE brand IN {ids}"
STORE_CODES = "SELECT id, code FROM store WHERE code IN {ids}"

# The marketer's simulation: the last days' receipts with their lines.
SIM_RECEIPTS = (
    "SELECT r.id, r.account_id, r.occurred_at, s.code AS store_code, "
    "a.lifetime_spend_kopecks, "
    "(SELECT MIN(f.id) FROM receipt f WHERE f.account_id = r.account_id) AS first_id "
    "FROM receipt r JOIN store s ON s.id = r.store JOIN account a ON a.id = r.account_id "
    "WHERE r.occurred_at >= $1 ORDER BY r.id LIMIT $2"
)
SIM_LINES = (
    "SELECT receipt, line_no, sku, category, brand, quantity, amount_kopecks, "
    "redeemed_kopecks, earned_points FROM receipt_line WHERE receipt IN {ids} "
    "ORDER BY receipt, line_no"
)

POLICY = (
    "SELECT p.max_line_share_bp, p.reasons, s.code FROM manual_discount_policy p "
    "JOIN store s ON s.id = p.store WHERE p.store = $1"
)
UPSERT_POLICY = (
    "INSERT INTO manual_discount_policy (store, max_line_share_bp, reasons) VALUES ($1, $2, $3) "
    "ON CONFLICT (store) DO UPDATE SET max_line_share_bp = excluded.max_line_share_bp, "
    "reasons = excluded.reasons"
)

# ---- coupons -------------------------------------------------------------------------------

KNOWN_ACCOUNTS = "SELECT id FROM account WHERE id IN {ids}"
INSERT_BATCH = (
    "INSERT INTO coupon_batch (promotion_id, shared, size, valid_from, valid_until, "
    "per_shopper_limit, total_limit, used, export, downloaded_at, created_by, created_at, "
    "status) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, NULL, $8, $9, $10) RETURNING id"
)
_BATCH_COLUMNS = (
    "b.id, b.promotion_id, b.shared, b.size, b.valid_from, b.valid_until, "
    "b.per_shopper_limit, b.total_limit, b.used, b.downloaded_at, b.created_at, b.status, "
    # Whether the codes wait for their download (not the codes: megabytes for a big batch).
    "(b.export IS NOT NULL) AS waiting, "
    "EXISTS (SELECT 1 FROM coupon c WHERE c.batch_id = b.id AND c.shown IS NOT NULL) "
    "AS personal"
)
BATCH = f"SELECT {_BATCH_COLUMNS} FROM coupon_batch b WHERE b.id = $1"
BATCHES = f"SELECT {_BATCH_COLUMNS} FROM coupon_batch b WHERE b.promotion_id = $1 ORDER BY b.id"
SET_EXPORT = "UPDATE coupon_batch SET export = $2 WHERE id = $1"
EXPORT = db.sql(
    "SELECT promotion_id, export, downloaded_at, status FROM coupon_batch WHERE id = $1 {lock}",
    lock="FOR UPDATE",
)
# A batch the worker is making, held while one chunk of its codes goes in.
MAKING = db.sql(
    "SELECT promotion_id, size, status FROM coupon_batch WHERE id = $1 {lock}", lock="FOR UPDATE"
)
CODES_IN_BATCH = "SELECT COUNT(*) AS n FROM coupon WHERE batch_id = $1"
# The chunk's CSV lines go in with the chunk's codes (one transaction): never a code
# stored whose plain text is lost, nor a line for a code not stored.
APPEND_EXPORT = "UPDATE coupon_batch SET export = export || $2 WHERE id = $1"
BATCH_READY = "UPDATE coupon_batch SET status = 'ready' WHERE id = $1"
TAKE_EXPORT = "UPDATE coupon_batch SET export = NULL, downloaded_at = $2 WHERE id = $1"


def insert_coupons(count: int) -> str:
    """``count`` new single-use codes (batch, promotion, hash, owner, shown); a hash already stored is
    skipped, and the hashes stored come back (the caller draws again for the rest)."""
    groups = db.rows(count, 5, tail=", 0, 1")
    return (
        "INSERT INTO coupon (batch_id, promotion_id, code_hash, account_id, shown, uses, "
        f"max_uses) VALUES {groups} ON CONFLICT (code_hash) DO NOTHING RETURNING code_hash"
    )


# A batch's unique codes in one statement per chunk (``$3``: a JSON array of their hashes)
# instead of 5 parameters a row: a million codes in 1,000-row VALUES statements took
# 100 s on this box, mostly binding and planning 5,000 parameters a statement. The
# hashes that went in come back; one already stored is skipped (the caller draws again).
INSERT_UNIQUE_COUPONS = db.Sql(
    postgres="INSERT INTO coupon (batch_id, promotion_id, code_hash, account_id, shown, uses, "
    "max_uses) SELECT $1, $2, h, NULL, NULL, 0, 1 FROM json_array_elements_text($3::json) AS h "
    "ON CONFLICT (code_hash) DO NOTHING RETURNING code_hash",
    # "WHERE true": SQLite reads ON CONFLICT after a bare SELECT as a join's ON.
    sqlite="INSERT INTO coupon (batch_id, promotion_id, code_hash, account_id, shown, uses, "
    "max_uses) SELECT ?1, ?2, value, NULL, NULL, 0, 1 FROM json_each(?3) WHERE true "
    "ON CONFLICT (code_hash) DO NOTHING RETURNING code_hash",
)

# A shared code: no limit per code (the batch's total_limit and per_shopper_limit hold).
INSERT_COUPONS_ONE = (
    "INSERT INTO coupon (batch_id, promotion_id, code_hash, account_id, shown, uses, max_uses) "
    "VALUES ($1, $2, $3, $4, $5, 0, NULL) ON CONFLICT (code_hash) DO NOTHING RETURNING code_hash"
)
COUPONS_BY_HASH = (
    "SELECT c.id, c.batch_id, c.promotion_id, c.code_hash, c.account_id, c.uses, c.max_uses, "
    "b.valid_from, b.valid_until, b.per_shopper_limit, b.total_limit, b.used, "
    "p.status, p.name AS promotion_name "
    "FROM coupon c JOIN coupon_batch b ON b.id = c.batch_id "
    "JOIN promotion p ON p.id = c.promotion_id WHERE c.code_hash IN {ids}"
)
SHOPPER_COUPON_USES = (
    "SELECT batch_id, COUNT(*) AS uses FROM coupon_use WHERE account_id = $1 "
    "AND returned_at IS NULL AND batch_id IN {ids} GROUP BY batch_id"
)
# The till's claim: no row back means another receipt took the last use first.
CLAIM_COUPON = (
    "UPDATE coupon SET uses = uses + 1 WHERE id = $1 "
    "AND (max_uses IS NULL OR uses < max_uses) RETURNING id"
)
CLAIM_BATCH = (
    "UPDATE coupon_batch SET used = used + 1 WHERE id = $1 "
    "AND (total_limit IS NULL OR used < total_limit) RETURNING id"
)
UNCLAIM_COUPON = "UPDATE coupon SET uses = uses - 1 WHERE id = $1 AND uses > 0"
UNCLAIM_BATCH = "UPDATE coupon_batch SET used = used - 1 WHERE id = $1 AND used > 0"
INSERT_USE = (
    "INSERT INTO coupon_use (coupon_id, batch_id, promotion_id, account_id, receipt, used_at, "
    "returned_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)"
)
USES_OF_RECEIPT = (
    "SELECT u.id, u.coupon_id, u.batch_id, u.promotion_id, b.valid_until FROM coupon_use u "
    "JOIN coupon_batch b ON b.id = u.batch_id WHERE u.receipt = $1 AND u.returned_at IS NULL "
    "ORDER BY u.id"
)
RETURN_USE = "UPDATE coupon_use SET returned_at = $2 WHERE id = $1"
ASSIGN = (
    "UPDATE coupon SET account_id = $2, shown = $3 WHERE code_hash = $1 "
    "AND account_id IS NULL AND max_uses IS NOT NULL"
)
PERSONAL = (
    "SELECT c.shown, c.promotion_id, p.name, b.valid_until FROM coupon c "
    "JOIN coupon_batch b ON b.id = c.batch_id JOIN promotion p ON p.id = c.promotion_id "
    "WHERE c.account_id = $1 AND c.shown IS NOT NULL AND c.uses < COALESCE(c.max_uses, 1) "
    "AND p.status = 'active' ORDER BY c.id"
)
