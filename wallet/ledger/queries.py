"""Every hand-written statement of the ledger, named (``$n`` placeholders; see ``db.sql``).

The till's hot path runs these through ``db.fetch``: asyncpg prepares each once per
connection, which is why they are fixed texts and not built per call.
"""

from __future__ import annotations

import functools

from wallet import db

LOCK_ACCOUNT_ROW = db.sql(
    "SELECT id, balance, pending, debt, lifetime_spend_kopecks, next_lot_event_at "
    "FROM account WHERE id = $1 {lock}",
    lock="FOR UPDATE",
    next_lot_event_at=db.timestamp,
)
"""An account's totals, locked until the transaction ends: every unit of work reads them,
changes them in memory and writes them back (``SAVE_TOTALS``); unlocked, two tills on one
account on PostgreSQL would each write their own sum and one would be lost."""

SAVE_TOTALS = db.sql(
    "UPDATE account SET balance = $1, pending = $2, debt = $3, "
    "lifetime_spend_kopecks = $4, next_lot_event_at = $5 WHERE id = $6"
)
"""The totals of a unit of work, written once when it ends (under ``LOCK_ACCOUNT_ROW``)."""

SAVE_TOTALS_AND_SPEND = db.Sql(
    db.sql(
        "WITH saved AS (UPDATE account SET balance = $1, pending = $2, debt = $3, "
        "lifetime_spend_kopecks = $4, next_lot_event_at = $5 WHERE id = $6) "
        "INSERT INTO account_spend_month (spend_key, account_id, month, spent_kopecks) "
        "VALUES ($7, $6, $8, $9) ON CONFLICT (spend_key) DO UPDATE SET "
        "spent_kopecks = account_spend_month.spent_kopecks + excluded.spent_kopecks"
    ).postgres,
    "",
)
"""PostgreSQL: ``SAVE_TOTALS`` and one month's ``ADD_SPEND_MONTH`` (key, month, kopecks)
in one statement, as a receipt ends its unit of work."""

INSERT_LOT = db.sql(
    "INSERT INTO lot (account, amount, remaining, earned_at, available_from, "
    "expires_at, is_pending, source, receipt_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
)
"""A new lot of earned points (the till's hot path: a prepared statement)."""

SPENDABLE_LOTS = db.sql(
    "SELECT id, remaining, expires_at FROM lot WHERE account = $1 AND remaining > 0 "
    "AND is_pending = $2 AND expires_at > $3 ORDER BY expires_at, id"
)
"""Available lots in the order spending takes them: oldest-expiring first ($2 is false)."""

TAKE_FROM_LOT = db.sql("UPDATE lot SET remaining = remaining - $1 WHERE id = $2")
"""Points taken from one lot (relative, so the statement is right whatever was read)."""


@functools.lru_cache(maxsize=64)
def insert_journal(entries: int) -> db.Sql:
    """``entries`` journal entries (account, lot, kind, points, receipt, actor, reason, at,
    promotion) in one statement: a receipt's entries cost one round trip, not one each.
    Built once per count."""
    groups = db.rows(entries, 9)
    return db.sql(
        "INSERT INTO journal_entry (account, lot, kind, points, receipt_id, actor, reason, "
        f"created_at, promotion_id) VALUES {groups}"
    )


@functools.lru_cache(maxsize=64)
def insert_lot_with_journal(on_lot: tuple[bool, ...]) -> db.Sql:
    """PostgreSQL: a new lot (``INSERT_LOT``'s arguments) and its journal entries in one
    statement, each entry (account, kind, points, receipt, actor, reason, at, promotion)
    on the new lot where ``on_lot`` says so (the debt repaid from it is the other side of
    an entry that is not). Returns the lot's id; one round trip where there were two on
    every receipt that earns. Built once per pattern."""
    groups = ", ".join(
        f"(${10 + i * 8}, {'(SELECT id FROM new_lot)' if own else 'NULL'}, "
        f"{db.marks(7, 11 + i * 8)})"
        for i, own in enumerate(on_lot)
    )
    lot = INSERT_LOT.postgres
    return db.Sql(
        f"WITH new_lot AS ({lot}) INSERT INTO journal_entry (account, lot, kind, points, "
        f"receipt_id, actor, reason, created_at, promotion_id) VALUES {groups} "
        "RETURNING (SELECT id FROM new_lot) AS id",
        "",
    )


ADD_SPEND_MONTH = db.sql(
    "INSERT INTO account_spend_month (spend_key, account_id, month, spent_kopecks) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (spend_key) DO UPDATE SET "
    "spent_kopecks = account_spend_month.spent_kopecks + excluded.spent_kopecks"
)
"""Money paid in a month, added in SQL: the row may have been written by another
account's merge in the same transaction, and an upsert needs no read first."""

SPEND_MONTHS_OF = db.sql(
    "SELECT month, spent_kopecks FROM account_spend_month WHERE account_id = $1"
)
"""Every month an account has spent in (a merge moves them all)."""

DELETE_SPEND_MONTHS = db.sql("DELETE FROM account_spend_month WHERE account_id = $1")
"""A merged-away account's months, once added to the target's."""


def spend_months_since(accounts: int) -> str:
    """The months a tier counts ("YYYY-MM" sorts as text) of ``accounts`` accounts at once:
    ``$1`` is the first month, then the account ids."""
    marks = db.marks(accounts, 2)
    return (
        "SELECT account_id, month, spent_kopecks FROM account_spend_month "
        f"WHERE month >= $1 AND account_id IN ({marks})"
    )


NEXT_LOT_EVENT = db.sql(
    "SELECT MIN(CASE WHEN is_pending AND available_from < expires_at "
    "THEN available_from ELSE expires_at END) AS next_at "
    "FROM lot WHERE account = $1 AND remaining > 0",
    next_at=db.timestamp,
)
"""When the account's clock next moves: a live lot expires or a pending one matures."""

ACCOUNTS_DUE = db.sql(
    "SELECT id FROM account WHERE next_lot_event_at IS NOT NULL AND next_lot_event_at <= $1 "
    "ORDER BY id"
)
"""Accounts whose clock is due (the expiry sweep), in lock order."""

JOURNAL_BY_LOT = db.sql(
    "SELECT lot, SUM(points) AS total FROM journal_entry WHERE account = $1 "
    "AND lot IS NOT NULL GROUP BY lot"
)
"""Reconcile: what each lot's entries sum to (must equal its remaining)."""

JOURNAL_TOTAL = db.sql(
    "SELECT COALESCE(SUM(points), 0) AS total FROM journal_entry WHERE account = $1"
)
"""Reconcile: the whole journal of an account (must equal balance + pending - debt)."""

LOT_SEQUENCE = db.sql("SELECT pg_get_serial_sequence('lot', 'id') AS name")
"""PostgreSQL: the sequence lot ids come from, drawn by set-based crediting."""

LAST_LOT_ID = db.sql("SELECT COALESCE(MAX(id), 0) AS top FROM lot")
"""SQLite: the highest lot id; one writer at a time, so the ids after it are free."""


def lots_credited(*, sqlite: bool) -> str:
    """The lots whose ids are the JSON array ``$1``, as (``account_id``, ``points``): what
    ``bulk.credit_lots`` credited set-based, for ``bulk.announce``. One argument however
    many lots (a batch is thousands), read by primary key; both engines read a JSON array
    as a table."""
    ids = (
        "SELECT value FROM json_each($1)"
        if sqlite
        else "SELECT value::bigint FROM json_array_elements_text($1::json)"
    )
    return f"SELECT account AS account_id, amount AS points FROM lot WHERE id IN ({ids})"


def points_changed_rows(credits: str) -> str:
    """Per account of the SELECT ``credits`` (``account_id``, ``points``: what a set-based
    credit gave, in the same transaction, after it), what ``PointsChanged`` says: the
    totals after and how much moved. The credit only adds available points, so pending and
    debt moved by nothing; the accounts are locked by the credit's own UPDATE, so the
    totals read are the ones this transaction left."""
    return (
        "SELECT account.id AS account_id, account.balance, account.pending, account.debt, "
        "credited.points AS balance_change, 0 AS pending_change, 0 AS debt_change "
        f"FROM (SELECT account_id, SUM(points) AS points FROM ({credits}) AS c "
        "GROUP BY account_id) AS credited JOIN account ON account.id = credited.account_id"
    )


def open_accounts(rows: int) -> str:
    """SQLite: ``rows`` new accounts (their created_at), their ids back."""
    return (
        "INSERT INTO account (balance, pending, debt, lifetime_spend_kopecks, created_at) "
        f"VALUES {db.rows(rows, 1).replace('(', '(0, 0, 0, 0, ')} RETURNING id"
    )


OPEN_ACCOUNTS = db.sql(
    "INSERT INTO account (balance, pending, debt, lifetime_spend_kopecks, created_at) "
    "SELECT 0, 0, 0, 0, created_at FROM unnest($1::timestamptz[]) AS t(created_at) "
    "RETURNING id"
)
"""PostgreSQL: ``open_accounts`` with one array."""

LOT_IDS = db.sql(
    "SELECT nextval(pg_get_serial_sequence('lot', 'id')) AS id FROM generate_series(1, $1)"
)
"""PostgreSQL: ``$1`` lot ids drawn at once for set-based lots with their own expiry."""

_LOT_COLUMNS = (
    "id, account, amount, remaining, earned_at, available_from, expires_at, is_pending, source"
)


def insert_lots(rows: int) -> str:
    """SQLite: ``rows`` lots (``_LOT_COLUMNS``) with ids drawn beforehand."""
    return f"INSERT INTO lot ({_LOT_COLUMNS}) VALUES {db.rows(rows, 9)}"


INSERT_LOTS = db.sql(
    f"INSERT INTO lot ({_LOT_COLUMNS}) SELECT * FROM unnest($1::bigint[], $2::int[], "
    "$3::bigint[], $4::bigint[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[], "
    "$8::bool[], $9::text[])"
)
"""PostgreSQL: ``insert_lots`` with one array per column."""

_JOURNAL_COLUMNS = "account, lot, kind, points, actor, reason, created_at"


def insert_journal_rows(rows: int) -> str:
    """SQLite: ``rows`` journal entries (``_JOURNAL_COLUMNS``) of set-based lots."""
    return f"INSERT INTO journal_entry ({_JOURNAL_COLUMNS}) VALUES {db.rows(rows, 7)}"


INSERT_JOURNAL_ROWS = db.sql(
    f"INSERT INTO journal_entry ({_JOURNAL_COLUMNS}) SELECT * FROM unnest($1::int[], "
    "$2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[])"
)
"""PostgreSQL: ``insert_journal_rows`` with one array per column."""

_NEXT_EVENT = (
    "CASE WHEN account.next_lot_event_at IS NULL OR account.next_lot_event_at > v.first_at "
    "THEN v.first_at ELSE account.next_lot_event_at END"
)


def credit_accounts(rows: int) -> str:
    """SQLite: add points to ``rows`` balances (account, points, earliest expiry) and move
    each account's next lot event to the earliest of what it had and its new lots'."""
    values = db.rows(rows, 3)
    return (
        f"UPDATE account SET balance = account.balance + v.points, next_lot_event_at = "
        f"{_NEXT_EVENT} FROM (SELECT column1 AS id, column2 AS points, column3 AS first_at "
        f"FROM (VALUES {values})) AS v WHERE account.id = v.id"
    )


CREDIT_ACCOUNTS = db.sql(
    f"UPDATE account SET balance = account.balance + v.points, next_lot_event_at = "
    f"{_NEXT_EVENT} FROM unnest($1::int[], $2::bigint[], $3::timestamptz[]) "
    "AS v(id, points, first_at) WHERE account.id = v.id"
)
"""PostgreSQL: ``credit_accounts`` with one array per column."""


def add_lifetime_spend(rows: int) -> str:
    """SQLite: add money paid to ``rows`` lifetime spends (account, kopecks)."""
    return (
        "UPDATE account SET lifetime_spend_kopecks = account.lifetime_spend_kopecks + "
        "v.kopecks FROM (SELECT column1 AS id, column2 AS kopecks FROM (VALUES "
        f"{db.rows(rows, 2)})) AS v WHERE account.id = v.id"
    )


ADD_LIFETIME_SPEND = db.sql(
    "UPDATE account SET lifetime_spend_kopecks = account.lifetime_spend_kopecks + v.kopecks "
    "FROM unnest($1::int[], $2::bigint[]) AS v(id, kopecks) WHERE account.id = v.id"
)
"""PostgreSQL: ``add_lifetime_spend`` with one array per column."""

_SPEND_MONTH_UPSERT = (
    "ON CONFLICT (spend_key) DO UPDATE SET "
    "spent_kopecks = account_spend_month.spent_kopecks + excluded.spent_kopecks"
)


def add_spend_months(rows: int) -> str:
    """SQLite: ``ADD_SPEND_MONTH`` for ``rows`` (spend_key, account, month, kopecks) at
    once; the keys must be distinct (an upsert updates a row once a statement)."""
    return (
        "INSERT INTO account_spend_month (spend_key, account_id, month, spent_kopecks) "
        f"VALUES {db.rows(rows, 4)} {_SPEND_MONTH_UPSERT}"
    )


ADD_SPEND_MONTHS = db.sql(
    "INSERT INTO account_spend_month (spend_key, account_id, month, spent_kopecks) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) "
    f"{_SPEND_MONTH_UPSERT}"
)
"""PostgreSQL: ``add_spend_months`` with one array per column."""


def accounts_owing(count: int) -> str:
    """SQLite: which of ``count`` accounts owe points (they are credited through the
    door)."""
    return f"SELECT id FROM account WHERE debt > 0 AND id IN ({db.marks(count)})"


ACCOUNTS_OWING = db.sql("SELECT id FROM account WHERE debt > 0 AND id = ANY($1::int[])")
"""PostgreSQL: ``accounts_owing`` with one array."""

# ---- month-end lots (the liability at a past moment) -----------------------------------

MONTH_END_MEMORY = db.Sql("SET LOCAL work_mem = '64MB'", "SELECT 1")
"""PostgreSQL: more memory for the sorts and hashes of recording a month end (a million
accounts' lots, once a month) than the default 4 MB, for that transaction only."""

MONTH_END_NO_JIT = db.Sql("SET LOCAL jit = off", "SELECT 1")
"""PostgreSQL: no LLVM compiling of the month end's statements (see the reports'
``NO_JIT``)."""

START_LIABILITY_MONTH = db.sql(
    "INSERT INTO liability_month (month, as_of, last_entry, rows, recorded_at) "
    "VALUES ($1, $2, (SELECT COALESCE(MAX(id), 0) FROM journal_entry), 0, $3) "
    "ON CONFLICT (month) DO NOTHING RETURNING last_entry"
)
"""The month end's marker, first in the recording transaction, with the journal's highest
id: no row back means the month is recorded already (or another worker is recording it:
PostgreSQL makes this insert wait for that transaction and then do nothing)."""

PREVIOUS_LIABILITY_MONTH = db.sql(
    "SELECT month, as_of, last_entry FROM liability_month WHERE as_of < $1 "
    "ORDER BY as_of DESC LIMIT 1",
    as_of=db.timestamp,
)
"""The latest month end recorded before $1, which a new one is built on."""

_LIVE_ENTRIES = (
    "SELECT j.account AS account_id, j.lot AS lot_id, j.points AS points, "
    "l.expires_at AS expires_at, l.available_from AS available_from "
    "FROM journal_entry j LEFT JOIN lot l ON l.id = j.lot AND l.expires_at > $2 "
    "WHERE j.created_at <= $2 AND j.id <= $3 AND (j.lot IS NULL OR l.id IS NOT NULL)"
)
_INSERT_LOTS = (
    "INSERT INTO lot_month_end (month, account_id, lot_id, points, expires_at, available_from) "
)

# Written in the order of their expiry: the indexes on (month, expires_at) and (month,
# available_from) (a lot matures before it expires, and the two move together) then grow
# at their right edge instead of at random places in indexes larger than the server's
# cache. Unordered, recording 3,300,000 lots took 149 s instead of 31 s
# (bench/bench_reports.py, 1,000,000 accounts).
_IN_EXPIRY_ORDER = "ORDER BY MAX(expires_at), MAX(available_from)"

RECORD_LOTS_FROM_JOURNAL = db.sql(
    f"{_INSERT_LOTS}SELECT $1, account_id, lot_id, SUM(points), MAX(expires_at), "
    f"MAX(available_from) FROM ({_LIVE_ENTRIES}) e "
    f"GROUP BY account_id, lot_id HAVING SUM(points) <> 0 {_IN_EXPIRY_ORDER}"
)
"""Month $1 ended at $2: every account's lots alive then with the points they held on it
and its debt (``lot_id`` NULL, minus the debt), summed from the whole journal up to $2
(the entries up to id $3, the ones there when the month was started). A lot's
``expires_at`` and ``available_from`` never change, so they are kept beside its points."""

RECORD_LOTS_FROM_PREVIOUS = db.sql(
    f"{_INSERT_LOTS}SELECT $1, account_id, lot_id, SUM(points), MAX(expires_at), "
    "MAX(available_from) FROM ("
    "SELECT account_id, lot_id, points, expires_at, available_from FROM lot_month_end "
    "WHERE month = $4 AND (lot_id IS NULL OR expires_at > $2) "
    f"UNION ALL {_LIVE_ENTRIES} AND (j.created_at > $5 OR j.id > $6)) e "
    f"GROUP BY account_id, lot_id HAVING SUM(points) <> 0 {_IN_EXPIRY_ORDER}"
)
"""``RECORD_LOTS_FROM_JOURNAL`` from the month end $4 recorded before (at $5, with the
entries up to id $6): its lots not expired by $2 plus only the journal's entries since
(and the ones written after it was recorded, dated before it)."""

RECORD_ACCOUNTS = db.sql(
    "INSERT INTO account_month_end (month, account_id, balance, pending, debt) "
    "SELECT month, account_id, "
    "SUM(CASE WHEN lot_id IS NOT NULL AND available_from <= $2 THEN points ELSE 0 END), "
    "SUM(CASE WHEN lot_id IS NOT NULL AND available_from > $2 THEN points ELSE 0 END), "
    "-SUM(CASE WHEN lot_id IS NULL THEN points ELSE 0 END) "
    "FROM lot_month_end WHERE month = $1 GROUP BY month, account_id"
)
"""Month $1 (ended at $2): each account's lots of the month end summed once, available
and pending as they were at $2, and its debt. A past liability starts from these rows and
adds what changed after $2, instead of grouping the month's lots by account each time
(``wallet.reports.queries.liability``)."""

LOT_EXPIRY_SPAN = db.sql(
    "SELECT MIN(expires_at) AS first, MAX(expires_at) AS last FROM lot_month_end "
    "WHERE month = $1 AND lot_id IS NOT NULL",
    first=db.timestamp,
    last=db.timestamp,
)
"""The earliest and latest expiry among month $1's lots: the calendar months
``RECORD_EXPIRY_MONTH`` runs for."""

RECORD_EXPIRY_MONTH = db.sql(
    "INSERT INTO expiry_month_end (month, expiry_month, expires_from, expires_before, points) "
    "SELECT month, $2, $3, $4, SUM(points) FROM lot_month_end "
    "WHERE month = $1 AND lot_id IS NOT NULL AND expires_at >= $3 AND expires_at < $4 "
    "GROUP BY month"
)
"""Month $1's lots that expire in calendar month $2 ([$3, $4), its bounds in the program's
zone, worked out by the caller) summed: what the liability splits by expiry month reads
instead of the lots (no row for a month nothing expires in)."""

FINISH_LIABILITY_MONTH = db.sql(
    "UPDATE liability_month SET rows = "
    "(SELECT COUNT(*) FROM lot_month_end WHERE month = $1) WHERE month = $1 RETURNING rows"
)

ANALYZE_LOT_MONTH_END = db.sql("ANALYZE lot_month_end")
ANALYZE_TOTALS_MONTH_END = db.sql("ANALYZE account_month_end, expiry_month_end")
"""PostgreSQL only: fresh statistics after a month's rows went in."""
