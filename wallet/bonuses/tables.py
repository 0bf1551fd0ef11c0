"""Event bonuses: what marketers set, what was paid (one row per bonus, on a unique key, so
a retry or a second event never pays twice), and who joined with whose referral code.

Accounts, receipts and lots are referred to by id (no foreign keys into other domains)."""

from piccolo.columns import JSON, BigInt, BigSerial, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class BonusSettings(Table, tablename="bonus_settings"):
    """One version of the event bonuses; the latest row is in force. Never edited."""

    id = Serial(primary_key=True)
    settings = JSON(default="{}")
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class BonusAward(Table, tablename="bonus_award"):
    """One bonus paid. ``award_key`` says what it is for ("welcome:<account>",
    "birthday:receipt:<receipt>", "referral:friend:<referral>", ...): its unique index is
    the guarantee of paying once, whatever races."""

    id = BigSerial(primary_key=True)
    award_key = Varchar(length=80, unique=True)
    account_id = BigInt(index=True)
    # welcome, birthday, referral, profile, marketing
    kind = Varchar(length=16)
    points = BigInt()
    # Points of this award a return took back (birthday ×2 on a receipt).
    taken_back = BigInt(default=0)
    receipt_id = BigInt(null=True, default=None, index=True)
    lot_id = BigInt(null=True, default=None)
    reason = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Referral(Table, tablename="referral"):
    """A shopper who joined with a friend's code. One per new account, and one per person:
    the hashed phone and email are unique, so the same person is never a new friend twice."""

    id = BigSerial(primary_key=True)
    friend_account_id = BigInt(unique=True)
    referrer_account_id = BigInt(index=True)
    phone_key = Varchar(length=64, null=True, default=None, unique=True)
    email_key = Varchar(length=64, null=True, default=None, unique=True)
    # waiting (for the friend's first paid receipt), rewarded, refused
    status = Varchar(length=10, default="waiting")
    reason = Varchar(length=40, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    rewarded_at = Timestamptz(null=True, default=None)
