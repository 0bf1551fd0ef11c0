from piccolo.columns import (
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


class Account(Table, tablename="account"):
    """The balance holder. Every card of a shopper (virtual, plastic twin, family cards)
    points here, so their points and spend add up in one place.

    ``balance`` is the sum of ``remaining`` over the account's available (matured, not yet
    expired) lots; ``pending`` the same over lots not yet available; ``debt`` is what a
    return could not take back because the earned points were already spent. They are
    kept in the same transaction as the lots and journal, so a read needs no SUM.
    """

    id = Serial(primary_key=True)
    balance = BigInt(default=0)
    pending = BigInt(default=0)
    debt = BigInt(default=0)
    lifetime_spend_kopecks = BigInt(default=0)
    # The earliest time a lot of this account matures or expires: the write path settles
    # the account's clock only when this has passed, so most receipts skip that query.
    next_lot_event_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # The store the shopper joined at (their member's ``join_store_id``, set when the
    # account is opened; an account never changes members). Kept here so the points
    # liability splits a million accounts by join store without joining their members.
    join_store_id = Integer(null=True, default=None)


class Lot(Table, tablename="lot"):
    id = BigSerial(primary_key=True)
    account = ForeignKey(references=Account, index=True)
    amount = BigInt()
    remaining = BigInt()
    earned_at = Timestamptz()
    available_from = Timestamptz()
    expires_at = Timestamptz(index=True)
    is_pending = Boolean(default=False)
    # receipt, return, adjustment, cashback, bonus
    source = Varchar(length=16)
    # The receipt (by internal id) the lot came from, if any; no FK: receipts build on the
    # ledger, not the other way round.
    receipt_id = BigInt(null=True, default=None)


class JournalEntry(Table, tablename="journal_entry"):
    """Every movement of points. For a lot L, the entries naming L sum to L.remaining;
    the entries without a lot are debt (a return that found the points already spent)."""

    id = BigSerial(primary_key=True)
    account = ForeignKey(references=Account, index=True)
    lot = ForeignKey(references=Lot, null=True, default=None)
    # earn, redeem, return, refund, expire, adjust, debt, repay
    kind = Varchar(length=16)
    points = BigInt()
    receipt_id = BigInt(null=True, default=None, index=True)
    # The promotion that gave (or, on a return, took back) these points; no FK: promotions
    # build on the ledger.
    promotion_id = Integer(null=True, default=None)
    actor = Varchar(length=100, default="")
    reason = Text(default="")
    # Indexed for the reports, which select entries by time (migration 2026-11-30T23:30:01).
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class SpendMonth(Table, tablename="account_spend_month"):
    """Money paid per account and calendar month (program time zone), net of returns, which
    count in the month of the sale. Tiers that qualify on a rolling window or a calendar
    period read it (``Rules.tier_basis``); the lifetime total stays on ``account``."""

    id = BigSerial(primary_key=True)
    # "<account id>:<YYYY-MM>": the row a receipt adds to, upserted on this key.
    spend_key = Varchar(length=40, unique=True)
    account_id = BigInt(index=True)
    month = Varchar(length=7)
    spent_kopecks = BigInt(default=0)


class LiabilityMonth(Table, tablename="liability_month"):
    """A month end whose lots are recorded in ``lot_month_end`` (one row per month: a rerun
    finds it and writes nothing). ``as_of`` is the instant the month ended; ``last_entry`` the
    highest journal entry id when it was recorded: an entry after it dated before ``as_of``
    (written late) is not in the month's lots, and the reports add it from the journal."""

    id = Serial(primary_key=True)
    month = Varchar(length=7, unique=True)
    as_of = Timestamptz()
    last_entry = BigInt(default=0)
    rows = BigInt(default=0)
    recorded_at = Timestamptz(default=TimestamptzNow())


class LotMonthEnd(Table, tablename="lot_month_end"):
    """What each account held at a month end (``as_of`` of its ``liability_month``), summed
    from the journal up to it: a lot still alive then with its points on that account (a
    merged card's lot on the side it was on), or, ``lot_id`` NULL, minus the account's debt.
    The reports rebuild a past moment from the last month end before it and the journal
    after it, instead of the whole journal."""

    id = BigSerial(primary_key=True)
    month = Varchar(length=7)
    account_id = BigInt()
    lot_id = BigInt(null=True, default=None)
    points = BigInt()
    expires_at = Timestamptz(null=True, default=None)
    available_from = Timestamptz(null=True, default=None)


class AccountMonthEnd(Table, tablename="account_month_end"):
    """Each account's totals at a recorded month end, summed once from its ``lot_month_end``
    rows: points available and pending then, and its debt. A past liability starts from
    these and adds what changed after the month end (migration 2026-12-02T01:00:12)."""

    id = BigSerial(primary_key=True)
    month = Varchar(length=7)
    account_id = BigInt()
    balance = BigInt()
    pending = BigInt()
    debt = BigInt()


class ExpiryMonthEnd(Table, tablename="expiry_month_end"):
    """A recorded month end's lots summed by the calendar month they expire in
    ([``expires_from``, ``expires_before``) in the program's zone): what the liability at a
    past moment splits by expiry month instead of its lots (migration 2026-12-02T01:00:12)."""

    id = BigSerial(primary_key=True)
    month = Varchar(length=7)
    expiry_month = Varchar(length=7)
    expires_from = Timestamptz()
    expires_before = Timestamptz()
    points = BigInt()
