"""Every statement of the reports, named (``$n`` placeholders; see ``db.sql``).

Reports are the one place allowed to read across other domains' tables for figures: the
ledger's ``account``, ``lot``, ``journal_entry`` and month-end lots (``liability_month``,
``lot_month_end``), ``member``, ``receipt`` and its lines,
``store``, ``promotion``, ``offer`` and ``offer_goal_month``, ``account_spend_month``. Each
domain's own rules still live in that domain; these statements only add up what was
recorded. They are read-only (SELECT only): nothing here ever writes.

How a past date is reconstructed (``liability``): a lot's journal entries sum to its
``remaining``, and the entries without a lot to minus the debt, so the entries made up to
a moment give each account's lots and debt as they stood then, whatever happened later.
The present needs none of that: it is what the accounts and lots hold now.
A lot counts as expired from its ``expires_at`` even if the sweep wrote its ``expire``
entry later, and as pending while ``available_from`` is still ahead (the release writes no
entry). Entries are grouped by their own ``account``: a lot that moved with a merged card
has a ``transfer`` entry on each side, so it counts where it was at that moment.
"""

from __future__ import annotations

from wallet import db

# ---- points liability ------------------------------------------------------------------


def _bucket(expires: str, bounds: list[str]) -> str:
    """The expiry bucket of a lot: n for [bound n-1, bound n) (the first from $1), the
    number of bounds for everything later; NULL without a lot (a debt)."""
    whens = " ".join(f"WHEN {expires} < {bound} THEN {n}" for n, bound in enumerate(bounds))
    return f"CASE WHEN {expires} IS NULL THEN NULL {whens} ELSE {len(bounds)} END"


_JOURNAL_AT = (
    "SELECT j.account AS account_id, j.lot AS lot_id, j.points AS points, "
    "l.expires_at AS expires_at, l.available_from AS available_from "
    "FROM journal_entry j LEFT JOIN lot l ON l.id = j.lot AND l.expires_at > $1 "
    "WHERE j.created_at <= $1 AND (j.lot IS NULL OR l.id IS NOT NULL)"
)
"""The journal's entries up to $1 of lots still alive then and those without a lot (debt),
entry by entry (``account_id``, ``lot_id``, ``points``, the lot's ``expires_at`` and
``available_from``)."""


def _held_at(bounds: list[str]) -> str:
    """Each account's points as of $1 by expiry bucket, from the whole journal in one pass
    (``available_from`` splits balance from pending; debt has bucket NULL)."""
    return (
        f"SELECT account_id, {_bucket('expires_at', bounds)} AS bucket, "
        "SUM(CASE WHEN lot_id IS NULL OR available_from > $1 THEN 0 ELSE points END) "
        "AS balance, "
        "SUM(CASE WHEN lot_id IS NOT NULL AND available_from > $1 THEN points ELSE 0 END) "
        "AS pending, "
        "-SUM(CASE WHEN lot_id IS NULL THEN points ELSE 0 END) AS debt "
        f"FROM ({_JOURNAL_AT}) e GROUP BY 1, 2"
    )


def _held_at_postgres(bounds: list[str]) -> str:
    """``_held_at`` in one pass with two groupings: per account (``by_bucket`` 0) and per
    expiry bucket (1). One hash of the lots instead of one per grouping: 13.6 s against
    12.6 + 16.4 s for the two apart (1,000,000 accounts, a loaded machine, the whole
    journal); SQLite has no GROUPING SETS."""
    return (
        "SELECT GROUPING(account_id) AS by_bucket, account_id, bucket, "
        "SUM(CASE WHEN lot_id IS NULL OR later THEN 0 ELSE points END) AS balance, "
        "SUM(CASE WHEN later THEN points ELSE 0 END) AS pending, "
        "-SUM(CASE WHEN lot_id IS NULL THEN points ELSE 0 END) AS debt "
        "FROM (SELECT account_id, lot_id, points, available_from > $1 AS later, "
        f"{_bucket('expires_at', bounds)} AS bucket FROM ({_JOURNAL_AT}) x) e "
        "GROUP BY GROUPING SETS ((account_id), (bucket))"
    )


def _journal_after(condition: str, *, postgres: bool) -> str:
    """``_JOURNAL_AT`` for the entries up to $1 that meet ``condition`` (the journal after a
    month end: up to a month of it, a million entries at 1,000,000 accounts), each entry's
    lot looked up by id in the order of the ids. Joined as usual, PostgreSQL hashed the
    million entries and ran all 5,000,000 lots through the hash: 8.2-9.7 s of the journal
    after, against 4.3-6.3 s in lot order (EXPLAIN ANALYZE, bench/bench_reports.py, a
    month after the month end, alternating on a loaded machine). ``OFFSET 0`` keeps the
    lookup a lookup (a plain subquery is flattened back into the join). SQLite has no
    LATERAL and looks each lot up by id anyway."""
    if not postgres:
        return f"{_JOURNAL_AT} AND {condition}"
    return (
        "SELECT j.account AS account_id, j.lot AS lot_id, j.points AS points, "
        "l.expires_at AS expires_at, l.available_from AS available_from "
        "FROM (SELECT j.account, j.lot, j.points FROM journal_entry j "
        f"WHERE j.created_at <= $1 AND {condition} ORDER BY j.lot) j "
        "LEFT JOIN LATERAL (SELECT id, expires_at, available_from FROM lot "
        "WHERE id = j.lot AND expires_at > $1 OFFSET 0) l ON TRUE "
        "WHERE j.lot IS NULL OR l.id IS NOT NULL"
    )


def _since_month_end(bounds: list[str], since: tuple[str, str, str], *, postgres: bool) -> str:
    """The sources of a past moment $1 from the month end ``since`` recorded before it (the
    placeholders of its month, its instant and the journal's highest id then): each
    account's totals then (``account_month_end``, summed once when the month was recorded)
    and what changed after, per account (``changed``), and the points by expiry bucket
    (from the month end's sums per expiry month, ``expiry_month_end``).

    What changed: the month end's lots that expired by $1 leave what they were then
    (available or pending), the ones that matured by $1 move from pending to available,
    and the journal after the month end (by ``journal_entry.created_at``; and the entries
    written after it was recorded but dated before it, ``id`` above its ``last_entry``)
    counts as each entry's lot stands at $1. Only these rows are grouped by account, not
    the month end's lots: grouping 2.5-3.5 million lots by account was 4 of the 6.6 s of
    the liability 90 days ago at 1,000,000 accounts (bench/bench_reports.py)."""
    month, as_of, last_entry = since
    lots = f"FROM lot_month_end WHERE month = {month} AND lot_id IS NOT NULL"
    late = f"j.created_at <= {as_of} AND j.id > {last_entry}"
    # Two selections of the journal, not one with OR: PostgreSQL estimated the OR at
    # 1.5 million entries (28,591 read) and hashed all 5,000,000 lots for them (2.7 s of
    # the report, bench/bench_reports.py); apart, each is estimated on its own index.
    return (
        f"after AS ({_journal_after(f'j.created_at > {as_of}', postgres=postgres)} "
        f"UNION ALL {_journal_after(late, postgres=postgres)}), "
        "changed AS (SELECT account_id, SUM(balance) AS balance, SUM(pending) AS pending, "
        "SUM(debt) AS debt FROM ("
        f"SELECT account_id, CASE WHEN available_from <= {as_of} THEN -points ELSE 0 END "
        f"AS balance, CASE WHEN available_from > {as_of} THEN -points ELSE 0 END AS pending, "
        f"0 AS debt {lots} AND expires_at <= $1 "
        f"UNION ALL SELECT account_id, points, -points, 0 {lots} "
        f"AND available_from > {as_of} AND available_from <= $1 AND expires_at > $1 "
        "UNION ALL SELECT account_id, "
        "CASE WHEN lot_id IS NOT NULL AND available_from <= $1 THEN points ELSE 0 END, "
        "CASE WHEN lot_id IS NOT NULL AND available_from > $1 THEN points ELSE 0 END, "
        "CASE WHEN lot_id IS NULL THEN -points ELSE 0 END FROM after"
        ") c GROUP BY account_id), "
        # By expiry: the month end's sums per calendar month of expiry from the month
        # after $1's on, its lots expiring in the rest of $1's month, and the journal after.
        "buckets AS (SELECT bucket, SUM(points) AS points FROM ("
        f"SELECT {_bucket('expires_from', bounds)} AS bucket, points FROM expiry_month_end "
        f"WHERE month = {month} AND expires_from >= {bounds[0]} "
        f"UNION ALL SELECT 0, points {lots} AND expires_at > $1 AND expires_at < {bounds[0]} "
        f"UNION ALL SELECT {_bucket('expires_at', bounds)}, points FROM after "
        "WHERE lot_id IS NOT NULL) b GROUP BY bucket), "
    )


def liability(
    tier_case: str,
    bounds: list[str],
    *,
    now: bool,
    months: tuple[str, str, str, str] | None,
    since: tuple[str, str, str] | None = None,
) -> db.Sql:
    """Accounts that existed at $1 and their points then by tier and join store (rows with
    a NULL ``bucket``), and the points of all of them by the month they expire in (rows
    with a ``bucket``, see ``_bucket``; the other columns NULL).

    $1: the moment; ``bounds``: the placeholders of the month boundaries ahead. A past
    moment is rebuilt from the month end ``since`` when one is recorded before it (its
    totals per account and what changed after, ``_since_month_end``), otherwise from the
    whole journal (``_held_at``, one pass for both kinds of rows).
    ``now``: $1 is the present, which needs no reconstruction: an account whose clock is
    not due (``next_lot_event_at`` ahead: no lot expired or matured since the ledger last
    settled it) holds its ``balance``, ``pending`` and ``debt`` as saved; the few that are
    due are summed from their lots (``remaining`` is the sum of a lot's entries and the
    lot sits on the account it moved to), and the buckets from the live lots.

    ``tier_case`` is the SQL expression (built by ``tier_case``) giving the index of the
    tier band over ``held``'s spend columns. ``months``, when the tiers need the monthly
    spend (a rolling or calendar basis, or lifetime as of a past month), are the
    placeholders of the last month counted ("YYYY-MM", the month of $1), the first month of
    a rolling window, January of that year and January of the year before; without them
    only the account's lifetime spend is read (the present's)."""
    if months:
        last, first, this_year, last_year = months
        spend_cte = (
            "spend AS ("
            "SELECT account_id, "
            "SUM(spent_kopecks) AS lifetime, "
            f"SUM(CASE WHEN month >= {first} THEN spent_kopecks ELSE 0 END) AS window_spend, "
            f"SUM(CASE WHEN month >= {this_year} THEN spent_kopecks ELSE 0 END) AS this_year, "
            f"SUM(CASE WHEN month >= {last_year} AND month < {this_year} THEN spent_kopecks "
            "ELSE 0 END) AS last_year "
            f"FROM account_spend_month WHERE month <= {last} GROUP BY account_id), "
        )
        lifetime = "a.lifetime_spend_kopecks" if now else "COALESCE(s.lifetime, 0)"
        spend_columns = (
            f"{lifetime} AS lifetime, COALESCE(s.window_spend, 0) AS window_spend, "
            "COALESCE(s.this_year, 0) AS this_year, COALESCE(s.last_year, 0) AS last_year, "
        )
        spend_join = "LEFT JOIN spend s ON s.account_id = a.id "
    else:
        spend_cte = spend_join = ""
        spend_columns = (
            "a.lifetime_spend_kopecks AS lifetime, 0 AS window_spend, 0 AS this_year, "
            "0 AS last_year, "
        )
    if now:
        due = "(a.next_lot_event_at IS NOT NULL AND a.next_lot_event_at <= $1)"
        sources = (
            "due AS (SELECT l.account AS account_id, "
            "SUM(CASE WHEN l.available_from > $1 THEN 0 ELSE l.remaining END) AS balance, "
            "SUM(CASE WHEN l.available_from > $1 THEN l.remaining ELSE 0 END) AS pending "
            "FROM lot l JOIN account a ON a.id = l.account "
            f"WHERE {due} AND l.expires_at > $1 AND l.remaining <> 0 GROUP BY l.account), "
            f"buckets AS (SELECT {_bucket('l.expires_at', bounds)} AS bucket, "
            "SUM(l.remaining) AS points "
            "FROM lot l WHERE l.expires_at > $1 AND l.remaining <> 0 GROUP BY 1), "
        )
        figures = (
            f"CASE WHEN {due} THEN COALESCE(x.balance, 0) ELSE a.balance END AS balance, "
            f"CASE WHEN {due} THEN COALESCE(x.pending, 0) ELSE a.pending END AS pending, "
            "a.debt AS debt, "
        )
        held_join = "LEFT JOIN due x ON x.account_id = a.id "
    elif since is not None:
        sources_postgres = _since_month_end(bounds, since, postgres=True)
        sources = _since_month_end(bounds, since, postgres=False)
        figures = "".join(
            f"COALESCE(me.{n}, 0) + COALESCE(x.{n}, 0) AS {n}, "
            for n in ("balance", "pending", "debt")
        )
        held_join = (
            f"LEFT JOIN account_month_end me ON me.month = {since[0]} "
            "AND me.account_id = a.id "
            "LEFT JOIN changed x ON x.account_id = a.id "
        )
    else:
        sources_postgres = (
            f"per AS ({_held_at_postgres(bounds)}), "
            "per_account AS (SELECT account_id, balance, pending, debt FROM per "
            "WHERE by_bucket = 0), "
            "buckets AS (SELECT bucket, balance + pending AS points FROM per "
            "WHERE by_bucket = 1 AND bucket IS NOT NULL), "
        )
        sources = (
            f"per_bucket AS ({_held_at(bounds)}), "
            "per_account AS (SELECT account_id, SUM(balance) AS balance, "
            "SUM(pending) AS pending, SUM(debt) AS debt FROM per_bucket GROUP BY account_id), "
            "buckets AS (SELECT bucket, SUM(balance + pending) AS points FROM per_bucket "
            "WHERE bucket IS NOT NULL GROUP BY bucket), "
        )
        figures = (
            "COALESCE(x.balance, 0) AS balance, COALESCE(x.pending, 0) AS pending, "
            "COALESCE(x.debt, 0) AS debt, "
        )
        held_join = "LEFT JOIN per_account x ON x.account_id = a.id "
    parts = (spend_cte, spend_columns, figures, held_join, spend_join, tier_case)
    return _by_engine(
        _liability_text(sources if now else sources_postgres, *parts),
        _liability_text(sources, *parts),
    )


def _liability_text(
    sources: str,
    spend_cte: str,
    spend_columns: str,
    figures: str,
    held_join: str,
    spend_join: str,
    tier_case: str,
) -> str:
    # The join store is kept on the account (its member's, set when it was opened): the
    # report used to join every account to its first member, a sort and a hash join of a
    # million rows (bench/bench_reports.py).
    return (
        f"WITH {sources}{spend_cte}"
        f"held AS (SELECT {spend_columns}{figures}a.join_store_id AS join_store_id "
        f"FROM account a {held_join}{spend_join}"
        "WHERE a.created_at <= $1) "
        f"SELECT {tier_case} AS tier_band, join_store_id, COUNT(*) AS accounts, "
        "SUM(CASE WHEN balance + pending > 0 OR debt > 0 THEN 1 ELSE 0 END) AS holding, "
        "SUM(balance) AS balance, SUM(pending) AS pending, SUM(debt) AS debt, "
        "NULL AS bucket, NULL AS points FROM held GROUP BY 1, 2 "
        "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, bucket, points FROM buckets"
    )


def tier_case(qualifying: str, highs: list[int], p: db.Params) -> str:
    """The index of the band (``Rules.tier_bands``, lowest first) that ``qualifying`` falls
    in: the first whose upper bound is above it (the bands are disjoint and ascending)."""
    if not highs:
        return "0"
    whens = " ".join(f"WHEN {qualifying} < {p(high)} THEN {n}" for n, high in enumerate(highs))
    return f"CASE {whens} ELSE {len(highs)} END"


# The qualifying spend of each tier basis (``Rules.standing``), over ``held``'s columns.
QUALIFYING = {
    "lifetime": "lifetime",
    "rolling": "window_spend",
    "calendar": "(CASE WHEN this_year > last_year THEN this_year ELSE last_year END)",
}


NO_JIT = db.Sql("SET LOCAL jit = off", "SELECT 1")
"""PostgreSQL compiles a statement whose estimated cost is high with LLVM before running
it; for the liability over 100,000 accounts that compiling took 2.8 s of 5.3 s (EXPLAIN
ANALYZE, bench/bench_reports.py), more than it saved. A report's transaction turns it off
for itself (SQLite has no JIT: a no-op there)."""

WORK_MEM = db.Sql("SET LOCAL work_mem = '64MB'", "SELECT 1")
"""The memory each sort or hash of a report's transaction may take before it spills to
disk (PostgreSQL's default is 4 MB): the liability's million-account hashes and the sort
of the members spilled, twice as slow. Bounded, and only for the report's transaction."""

LIABILITY_MONTH = db.sql(
    "SELECT month, as_of, last_entry FROM liability_month WHERE as_of <= $1 "
    "ORDER BY as_of DESC LIMIT 1",
    as_of=db.timestamp,
)
"""The latest month end at or before $1 whose lots the ledger recorded (``lot_month_end``,
``wallet.ledger.month_end``): a past liability starts from it."""

STORES = db.sql("SELECT id, code, name FROM store ORDER BY id")
"""Every store, for names beside ids (a chain has hundreds, not millions)."""

# ---- point movements -------------------------------------------------------------------

# What a journal entry is, for people: the ledger's kind, told apart by the lot's source
# and the promotion. ``repay`` and ``transfer`` move points between a lot and a debt or
# between two accounts and add up to nothing: they are "other".
CATEGORY = (
    "CASE "
    "WHEN j.kind = 'earn' AND j.promotion_id IS NOT NULL THEN 'promotion' "
    "WHEN j.kind = 'earn' AND l.source = 'cashback' THEN 'cashback' "
    "WHEN j.kind = 'earn' AND l.source LIKE 'bonus%' THEN 'bonus' "
    "WHEN j.kind = 'earn' THEN 'earned' "
    "WHEN j.kind = 'redeem' THEN 'redeemed' "
    "WHEN j.kind = 'expire' THEN 'expired' "
    "WHEN j.kind = 'adjust' THEN 'adjusted' "
    "WHEN j.kind IN ('return', 'debt') THEN 'returned' "
    "WHEN j.kind = 'refund' THEN 'refunded' "
    "ELSE 'other' END"
)
CATEGORIES = (
    "earned",
    "promotion",
    "cashback",
    "bonus",
    "redeemed",
    "expired",
    "adjusted",
    "returned",
    "refunded",
    "other",
)

# $1, $2: the period [from, to); $3: the zone (PostgreSQL's name, SQLite's "+180 minutes");
# $4: a store id or NULL for every store.
_MOVEMENTS_BODY = (
    f"{CATEGORY} AS category, r.store AS store_id, j.promotion_id AS promotion_id, "
    "g.offer_id AS offer_id, SUM(j.points) AS points, COUNT(*) AS entries "
    "FROM journal_entry j LEFT JOIN lot l ON l.id = j.lot "
    "LEFT JOIN receipt r ON r.id = j.receipt_id "
    "LEFT JOIN offer_goal_month g ON g.lot_id = j.lot AND j.kind = 'earn' "
    "AND l.source = 'cashback' "
    "WHERE j.created_at >= $1 AND j.created_at < $2 "
    "AND (CAST($4 AS INTEGER) IS NULL OR r.store = CAST($4 AS INTEGER)) "
    "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
)


def _by_engine(postgres: str, sqlite: str) -> db.Sql:
    """One statement whose text differs by engine (a time-zone function SQLite lacks)."""
    return db.Sql(db.sql(postgres).postgres, db.sql(sqlite).sqlite)


MOVEMENTS = _by_engine(
    f"SELECT to_char(j.created_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day, {_MOVEMENTS_BODY}",
    f"SELECT date(j.created_at, $3) AS day, {_MOVEMENTS_BODY}",
)
"""The period's movements by local day of the entry, category, store (of the receipt),
promotion and cashback offer. SQLite has no time zones: the zone's offset at the start of
the period is applied (exact for zones without summer time, such as Moscow's)."""

PROMOTION_NAMES = db.sql("SELECT id, name FROM promotion ORDER BY id")
OFFER_NAMES = db.sql("SELECT id, name FROM offer ORDER BY id")

_PER_CATEGORY = ", ".join(
    f"SUM(CASE WHEN category = '{name}' THEN points ELSE 0 END) AS {name}" for name in CATEGORIES
)

RECEIPT_MOVEMENTS = db.sql(
    "WITH moved AS ("
    f"SELECT j.receipt_id AS receipt_id, {CATEGORY} AS category, j.points AS points "
    "FROM journal_entry j LEFT JOIN lot l ON l.id = j.lot "
    "WHERE j.created_at >= $1 AND j.created_at < $2 AND j.receipt_id > $3), "
    f"per_receipt AS (SELECT receipt_id, {_PER_CATEGORY} FROM moved GROUP BY receipt_id) "
    "SELECT p.*, r.external_id, s.code AS store_code, r.occurred_at, r.account_id, "
    "r.total_kopecks, r.paid_kopecks "
    "FROM per_receipt p JOIN receipt r ON r.id = p.receipt_id JOIN store s ON s.id = r.store "
    "WHERE (CAST($4 AS INTEGER) IS NULL OR r.store = CAST($4 AS INTEGER)) "
    "ORDER BY p.receipt_id LIMIT $5",
    occurred_at=db.timestamp,
)
"""The period's movements receipt by receipt (ids after $3, at most $5: keyset pages)."""

RECEIPT = db.sql(
    "SELECT r.id, r.external_id, s.code AS store_code, s.name AS store_name, r.occurred_at, "
    "r.account_id, r.total_kopecks, r.paid_kopecks, r.redeemed_points, r.earned_points, "
    "r.refunded_points FROM receipt r JOIN store s ON s.id = r.store WHERE r.id = $1",
    occurred_at=db.timestamp,
)

RECEIPT_LINES = db.sql(
    "SELECT line_no, sku, category, quantity, amount_kopecks, discount_kopecks, "
    "redeemed_kopecks, earned_points, returned_kopecks, returned_earned_points "
    "FROM receipt_line WHERE receipt = $1 ORDER BY line_no"
)

RECEIPT_JOURNAL = db.sql(
    f"SELECT j.id, j.created_at, j.kind, {CATEGORY} AS category, j.points, j.promotion_id, "
    "j.lot AS lot_id, j.reason FROM journal_entry j LEFT JOIN lot l ON l.id = j.lot "
    "WHERE j.receipt_id = $1 ORDER BY j.id",
    created_at=db.timestamp,
)
"""Every ledger movement a receipt caused (sale, promotions, returns, refunds)."""

# ---- campaign outcome ------------------------------------------------------------------

# Delivery reasons decided when the rows were made: the shopper could not have been
# reached on that channel (campaigns' ``materialize``). Anything later (no_wallet,
# consent_withdrawn, a failure) happened to someone the campaign meant to reach.
UNREACHABLE = ("no_email", "no_consent", "unsubscribed", "no_phone")

_UNREACHABLE_SQL = ", ".join(f"'{reason}'" for reason in UNREACHABLE)

CAMPAIGN_GROUPS = db.sql(
    "WITH grp AS ("
    "SELECT account_id, MAX(CASE WHEN status = 'held_out' THEN 1 ELSE 0 END) AS control "
    "FROM delivery WHERE campaign_id = $1 AND ("
    "(status = 'held_out' AND reason = '') OR "
    f"(status <> 'held_out' AND NOT (status = 'skipped' AND reason IN ({_UNREACHABLE_SQL})))) "
    "GROUP BY account_id), "
    "per AS ("
    "SELECT g.control AS control, COUNT(r.id) AS receipts, "
    "COALESCE(SUM(r.total_kopecks), 0) AS revenue, COALESCE(SUM(r.earned_points), 0) AS points "
    "FROM grp g LEFT JOIN receipt r ON r.account_id = g.account_id "
    "AND r.occurred_at >= $2 AND r.occurred_at < $3 "
    "GROUP BY g.account_id, g.control) "
    "SELECT control, COUNT(*) AS shoppers, "
    "SUM(CASE WHEN receipts > 0 THEN 1 ELSE 0 END) AS buyers, "
    "SUM(receipts) AS receipts, SUM(CAST(receipts AS DOUBLE PRECISION) * receipts) AS receipts_sq, "
    "SUM(revenue) AS revenue, SUM(CAST(revenue AS DOUBLE PRECISION) * revenue) AS revenue_sq, "
    "SUM(points) AS points, SUM(CAST(points AS DOUBLE PRECISION) * points) AS points_sq "
    "FROM per GROUP BY control ORDER BY control"
)
"""A campaign's shoppers in two groups, control 0 (recipients: a delivery not skipped as
unreachable) and 1 (held out, and reachable: a ``held_out`` row whose reason is empty),
with what each group bought in [$2, $3): shoppers, buyers, receipts, revenue and points,
and the sums of squares per shopper that Welch's interval needs. The squares are summed as
doubles: kopecks squared over a million shoppers overflow 64-bit integers."""

# ---- cashback offer outcome ------------------------------------------------------------

OFFER_GOALS = db.sql(
    "SELECT COUNT(*) AS opted_in, "
    "SUM(CASE WHEN outcome = 'reached' THEN 1 ELSE 0 END) AS reached, "
    "SUM(CASE WHEN outcome = 'missed' THEN 1 ELSE 0 END) AS missed, "
    "SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS open, "
    "COALESCE(SUM(reward_points), 0) AS points FROM offer_goal_month "
    "WHERE offer_id = $1 AND month = $2"
)
"""An offer's goals of one month ($2, "YYYY-MM"): how many, reached, missed, still open, and
the cashback paid."""

OFFER_SPEND = db.sql(
    "WITH opted AS (SELECT DISTINCT account_id FROM offer_goal_month "
    "WHERE offer_id = $1 AND month = $2), "
    "spend AS (SELECT account_id, "
    "SUM(CASE WHEN month = $2 THEN spent_kopecks ELSE 0 END) AS now_spent, "
    "SUM(CASE WHEN month < $2 THEN spent_kopecks ELSE 0 END) AS before_spent "
    "FROM account_spend_month WHERE month >= $3 AND month <= $2 GROUP BY account_id), "
    "everyone AS (SELECT account_id FROM opted UNION SELECT account_id FROM spend) "
    "SELECT CASE WHEN o.account_id IS NULL THEN 0 ELSE 1 END AS opted, COUNT(*) AS shoppers, "
    "COALESCE(SUM(s.now_spent), 0) AS now_spent, "
    "COALESCE(SUM(s.before_spent), 0) AS before_spent "
    "FROM everyone e LEFT JOIN opted o ON o.account_id = e.account_id "
    "LEFT JOIN spend s ON s.account_id = e.account_id "
    "WHERE o.account_id IS NOT NULL OR s.before_spent > 0 "
    "GROUP BY 1 ORDER BY 1"
)
"""Money paid in month $2 and in the look-back months [$3, $2) by the offer's opted-in
shoppers of $2 (opted 1) and by everyone else who bought in the look-back (opted 0)."""

# ---- program health --------------------------------------------------------------------

_JOIN_MONTH = {
    "postgres": "to_char(a.created_at AT TIME ZONE $3, 'YYYY-MM')",
    "sqlite": "strftime('%Y-%m', a.created_at, $3)",
}
_COHORTS = (
    "WITH joined AS (SELECT a.id AS account_id, {month} AS cohort FROM account a "
    "WHERE a.created_at >= $1 AND a.created_at < $2), "
    "bought AS (SELECT account_id, month FROM account_spend_month "
    "WHERE month >= $4 AND month <= $5 AND spent_kopecks > 0) "
    "SELECT j.cohort AS cohort, b.month AS month, COUNT(*) AS buyers "
    "FROM joined j JOIN bought b ON b.account_id = j.account_id AND b.month >= j.cohort "
    "GROUP BY 1, 2 ORDER BY 1, 2"
)
COHORT_BUYERS = _by_engine(
    _COHORTS.format(month=_JOIN_MONTH["postgres"]), _COHORTS.format(month=_JOIN_MONTH["sqlite"])
)
"""Members who joined in [$1, $2) by join month ($3: the zone as ``MOVEMENTS`` takes it)
and how many of them bought (money paid that month, ``account_spend_month``) in each month
from their join month on, up to $5 ($4: the first month). An account has one row per month
there (``spend_key`` is unique), so no DISTINCT: it hashed a million rows again (2.5 s
against 1.0 s without, in the database of bench/bench_reports.py, 1,000,000 accounts)."""

_COHORT_SIZES = (
    "SELECT {month} AS cohort, COUNT(*) AS members FROM account a "
    "WHERE a.created_at >= $1 AND a.created_at < $2 GROUP BY 1 ORDER BY 1"
)
COHORT_SIZES = _by_engine(
    _COHORT_SIZES.format(month=_JOIN_MONTH["postgres"]),
    _COHORT_SIZES.format(month=_JOIN_MONTH["sqlite"]),
)

_ACTIVITY = (
    "SELECT {month} AS month, COUNT(DISTINCT r.account_id) AS shoppers, COUNT(*) AS receipts, "
    "SUM(r.total_kopecks) AS revenue FROM receipt r "
    "WHERE r.occurred_at >= $1 AND r.occurred_at < $2 GROUP BY 1 ORDER BY 1"
)
# PostgreSQL groups by the month's first instant (a timestamp) and names it after: sorting
# the 5,000,000 receipts on the text of to_char compared it by the collation: 5.5-9.1 s
# against 4.5 s (EXPLAIN ANALYZE in the database of bench/bench_reports.py, 1,000,000
# accounts; the sort spills either way).
ACTIVITY = _by_engine(
    "SELECT to_char(month, 'YYYY-MM') AS month, shoppers, receipts, revenue FROM ("
    + _ACTIVITY.format(month="date_trunc('month', r.occurred_at AT TIME ZONE $3)")
    + ") m",
    _ACTIVITY.format(month="strftime('%Y-%m', r.occurred_at, $3)"),
)
"""Receipts of [$1, $2) by month of the program's zone: shoppers who bought, receipts,
their total."""
