"""Cashback offers, the shoppers who opted in, their monthly goals, and burn reminders.

Tables of this domain only; accounts, cards and lots are reached by id (no foreign keys
into other domains), the way receipts refer to the ledger.
"""

from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Offer(Table, tablename="offer"):
    """A smart-goal cashback offer as a marketer defines it."""

    id = Serial(primary_key=True)
    name = Varchar(length=200)
    description = Text(default="")
    # 200 = 2% of the month's spend comes back as points.
    rate_bp = Integer()
    cap_points = BigInt()
    validity_months = Integer()
    # Categories whose spend counts towards the goal; empty = every category.
    categories = JSON(default="[]")
    # The goal policy: typical monthly spend over ``lookback_months`` full months, plus
    # ``uplift_percent``, rounded up to ``rounding_step_kopecks``, never below the minimum.
    lookback_months = Integer(default=3)
    uplift_percent = Integer(default=10)
    rounding_step_kopecks = BigInt(default=10_000)
    min_goal_kopecks = BigInt(default=0)
    no_history_goal_kopecks = BigInt(default=0)
    renews_monthly = Boolean(default=True)
    # Opting in mid-month counts the whole calendar month, unless the offer says it counts
    # only from the moment of opting in.
    counts_whole_month = Boolean(default=True)
    starts_at = Timestamptz()
    ends_at = Timestamptz(null=True, default=None)
    # Who may opt in: empty = everyone; else only these tiers ("card levels").
    eligible_tiers = JSON(default="[]")
    # ... and, when not empty, only shoppers in one of these saved segments ("groups") at
    # the time of opting in; both lists set = both must hold. Segments are referred to by
    # id (no foreign key); a segment an active offer uses cannot be deleted.
    eligible_segment_ids = JSON(default="[]")
    # active or ended
    status = Varchar(length=10, default="active")
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class OfferEnrolment(Table, tablename="offer_enrolment"):
    """A shopper's account opted in to an offer (one row per offer and account)."""

    id = Serial(primary_key=True)
    offer = ForeignKey(references=Offer, index=True)
    account_id = Integer(index=True)
    # "<offer id>:<account id>": opting in twice finds the first row.
    offer_account = Varchar(length=40, unique=True)
    opted_in_at = Timestamptz()
    # active or left
    status = Varchar(length=10, default="active")


class GoalMonth(Table, tablename="offer_goal_month"):
    """One enrolment's goal and progress in one calendar month of the program's zone.

    Receipts and returns move ``spent_kopecks`` in their own transaction; settlement reads
    these rows set-based, so it never has to add up receipts again.
    """

    id = BigSerial(primary_key=True)
    enrolment_id = Integer(index=True)
    # Settlement scans a whole month of one offer, so offer and month need no index (and
    # every index is one more write per row when a million rows settle).
    offer_id = Integer()
    account_id = Integer(index=True)
    # "2026-01" in the program's time zone
    month = Varchar(length=7)
    # "<enrolment id>:<month>", unique: the goal is fixed once made.
    enrolment_month = Varchar(length=40, unique=True)
    counts_from = Timestamptz()
    month_ends_at = Timestamptz()
    goal_kopecks = BigInt()
    spent_kopecks = BigInt(default=0)
    # How the goal was computed, for support ("why is my goal so high?").
    explanation = JSON(default="{}")
    # open or settled
    status = Varchar(length=10, default="open")
    # reached or missed, once settled
    outcome = Varchar(length=10, default="")
    reward_points = BigInt(default=0)
    lot_id = BigInt(null=True, default=None)
    settled_at = Timestamptz(null=True, default=None)
    # The shopper was told the outcome (email queued or not wanted).
    notified = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class SpendMonth(Table, tablename="offer_spend_month"):
    """Money paid per account, card, month and category: the history goals are made from.

    Kept by every receipt and return (not only of enrolled shoppers), so a shopper who opts
    in today gets a goal from the months before.
    """

    id = BigSerial(primary_key=True)
    # "<account>:<card>:<month>:<category>"
    spend_key = Varchar(length=120, unique=True)
    account_id = Integer(index=True)
    card_id = Integer()
    month = Varchar(length=7)
    category = Varchar(length=64)
    paid_kopecks = BigInt(default=0)


class BurnReminder(Table, tablename="offer_burn_reminder"):
    """A reminder that points burn on a date: sent once per account, date and lead time."""

    id = BigSerial(primary_key=True)
    # "<account>:<local date>:<days before>"
    reminder_key = Varchar(length=60, unique=True)
    account_id = Integer(index=True)
    burns_on = Date()
    burns_at = Timestamptz()
    days_before = Integer()
    points = BigInt()
    sent_at = Timestamptz()
