"""Every hand-written statement of event bonuses, named (``$n`` placeholders; see
``db.sql``)."""

from __future__ import annotations

from wallet import db

CLAIM_AWARD = db.sql(
    "INSERT INTO bonus_award (award_key, account_id, kind, points, taken_back, receipt_id, "
    "reason, created_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $7) "
    "ON CONFLICT (award_key) DO NOTHING RETURNING id"
)
"""An award claimed by its unique key: no row comes back when it was paid before (paid
once, whatever runs concurrently)."""

SET_AWARD_LOT = db.sql("UPDATE bonus_award SET lot_id = $1 WHERE id = $2")
"""The lot an award's points became."""

INSERT_REFERRAL = db.sql(
    "INSERT INTO referral (friend_account_id, referrer_account_id, phone_key, "
    "email_key, status, reason, created_at) VALUES ($1, $2, $3, $4, 'waiting', '', $5)"
)
"""A friend's code, waiting for the friend's first purchase (a phone or email joins with a
code once: the unique keys refuse a second)."""

WAITING_REFERRAL = db.sql(
    "SELECT id, referrer_account_id FROM referral "
    "WHERE friend_account_id = $1 AND status = 'waiting'"
)

REFUSE_SAME_ACCOUNT = db.sql(
    "UPDATE referral SET status = 'refused', reason = 'same_account' WHERE id = $1"
)
"""The friend's and the referrer's cards met on one account: no new person came."""

REFERRAL_REWARDED = db.sql(
    "UPDATE referral SET status = 'rewarded', rewarded_at = $1 WHERE id = $2"
)

BIRTHDAY_AWARD_OF_RECEIPT = db.sql(
    "SELECT id, points, taken_back, lot_id FROM bonus_award "
    "WHERE receipt_id = $1 AND award_key = $2"
)

RECEIPT_RETURNED_EARNED = db.sql(
    "SELECT r.earned_points, COALESCE(SUM(l.returned_earned_points), 0) AS returned "
    "FROM receipt r JOIN receipt_line l ON l.receipt = r.id WHERE r.id = $1 "
    "GROUP BY r.earned_points"
)
"""A receipt's earned points and how many of them its returns took back: a birthday
award is taken back in the same share."""

AWARD_TAKEN_BACK = db.sql("UPDATE bonus_award SET taken_back = taken_back + $1 WHERE id = $2")

HAS_PAID_RECEIPT = db.sql(
    "SELECT id FROM receipt WHERE account_id = $1 AND paid_kopecks > 0 LIMIT 1"
)
"""A friend's code counts only before the first paid receipt."""
