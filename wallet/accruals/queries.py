"""Every hand-written statement of the accruals domain, in ``db.fetch``'s ``$n`` style."""

from wallet import db

INSERT = (
    "INSERT INTO accrual (name, segment_id, points, valid_days, reason, repeat, status, "
    "next_run_at, runs, last_run_at, created_by, created_at, notify_email) "
    "VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, 0, NULL, $8, $9, $10) RETURNING id"
)
_WITH_TOTALS = (
    "SELECT a.*, (SELECT COUNT(*) FROM accrual_credit c WHERE c.accrual_id = a.id "
    "AND c.points <> 0) AS credited_accounts, (SELECT COALESCE(SUM(c.points), 0) FROM "
    "accrual_credit c WHERE c.accrual_id = a.id) AS credited_points FROM accrual a"
)
ONE = _WITH_TOTALS + " WHERE a.id = $1"
ALL = _WITH_TOTALS + " ORDER BY a.id DESC"
# The accrual held while a run finishes or is cancelled, so the two never cross.
LOCKED = db.sql("SELECT * FROM accrual WHERE id = $1 {lock}", lock="FOR UPDATE")
# The per-account mark of a run, in the account's transaction: no row back means this
# account already had this run (a rerun, a worker that died mid-way), so nothing moves.
MARK = (
    "INSERT INTO accrual_credit (credit_key, accrual_id, run_no, account_id, points, "
    "created_at) VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (credit_key) DO NOTHING RETURNING id"
)
SET_MOVED = "UPDATE accrual_credit SET points = $2 WHERE id = $1"
START = "UPDATE accrual SET status = 'running' WHERE id = $1"
FINISH = (
    "UPDATE accrual SET status = $2, runs = $3, last_run_at = $4, next_run_at = $5 WHERE id = $1"
)
CANCEL = "UPDATE accrual SET status = 'cancelled', next_run_at = NULL WHERE id = $1"
RUN_TOTALS = (
    "SELECT COUNT(*) AS accounts, COALESCE(SUM(points), 0) AS points FROM accrual_credit "
    "WHERE accrual_id = $1 AND run_no = $2 AND points <> 0"
)
