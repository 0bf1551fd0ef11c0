"""Set-based crediting: many accounts at once, for month-end cashback.

A call per account would be a million round trips, so the caller hands the ledger a set of
rows to credit (SQL over its own table: a lot id, an account, points) and the ledger adds,
per row, one lot and one journal entry equal to its points, and grows the account's balance
by the same number, in the caller's transaction. The ledger invariant holds row by row.

- PostgreSQL: ``credit_ctes`` are data-modifying CTEs the caller puts after its own CTE
  (one statement, one snapshot); lot ids are drawn up front with ``new_lot_id`` so the
  caller can keep them on its rows.
- SQLite (no data-modifying CTEs, one writer at a time): ``credit_in_steps`` runs the same
  steps as statements; lot ids after ``last_lot_id`` are free.
- An account that owes points (a return found its points spent) is not credited here: the
  row gets no lot id, and ``credit_each`` credits it through the door, which repays the
  debt from the new lot first, as every other credit does. They are few.
- The door publishes ``PointsChanged`` per account; a set-based credit tells the same with
  one ``PointsCreditedInBulk`` (``announce``), after its rows are in, for the whole set:
  the month-end cashback announces what its CTEs credited, ``credit_lots`` (opening
  balances of an import) what it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wallet import db
from wallet.ledger import queries, service
from wallet.ledger.events import PointsCreditedInBulk
from wallet.platform import events

# An account-id range, both ends included; None: every account of the set.
Range = tuple[int, int] | None


def _next_event(p: db.Params, expires_at: datetime) -> str:
    """An account's next lot event: the earliest of what it had and the new lot's expiry."""
    return (
        f"CASE WHEN account.next_lot_event_at IS NULL OR account.next_lot_event_at > "
        f"{p(expires_at)} THEN {p(expires_at)} ELSE account.next_lot_event_at END"
    )


@dataclass(frozen=True)
class Credit:
    """What every row of a set is credited with: lots available at once (``now``)."""

    source: str
    earned_at: datetime
    expires_at: datetime
    reason: str
    now: datetime
    kind: str = "earn"
    actor: str = "system"


def in_range(column: str, accounts: Range) -> str:
    """``AND column BETWEEN low AND high`` for a range (whole numbers of our own making)."""
    if accounts is None:
        return ""
    return f" AND {column} BETWEEN {int(accounts[0])} AND {int(accounts[1])}"


def owes_nothing(account: str, accounts: Range = None) -> str:
    """SQL condition: the account in column ``account`` has no debt (a range also bounds
    the account reads, so a range's plan reads only its slice of the account table)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM account WHERE account.id = {account} AND account.debt > 0"
        f"{in_range('account.id', accounts)})"
    )


async def lot_sequence() -> str:
    """PostgreSQL: the sequence lot ids come from, for ``new_lot_id``."""
    rows = await db.fetch(queries.LOT_SEQUENCE)
    return str(rows[0]["name"]).replace("'", "")


def new_lot_id(points: str, account: str, sequence: str, accounts: Range = None) -> str:
    """SQL expression: a lot id drawn now for a row of ``points`` for ``account`` that is
    credited in bulk, NULL for no points or an account that owes points."""
    return (
        f"CASE WHEN ({points}) > 0 AND {owes_nothing(account, accounts)} "
        f"THEN nextval('{sequence}') END"
    )


def credit_ctes(
    p: db.Params,
    rows: str,
    credit: Credit,
    *,
    lot: str,
    account: str,
    points: str,
    accounts: Range = None,
) -> str:
    """PostgreSQL: CTEs ``lots``, ``journal`` and ``credited`` (their arguments added to
    ``p``) that credit every row of the caller's CTE ``rows`` whose ``lot`` is not NULL.
    The journal entries' foreign keys to their lots are checked at the end of the
    statement, when the lots are there."""
    return (
        "lots AS (INSERT INTO lot (id, account, amount, remaining, earned_at, available_from, "
        "expires_at, is_pending, source, receipt_id) "
        f"SELECT {lot}, {account}, {points}, {points}, {p(credit.earned_at)}, {p(credit.now)}, "
        f"{p(credit.expires_at)}, false, {p(credit.source)}, NULL "
        f"FROM {rows} WHERE {lot} IS NOT NULL), "
        "journal AS (INSERT INTO journal_entry (account, lot, kind, points, receipt_id, actor, "
        f"reason, created_at) SELECT {account}, {lot}, {p(credit.kind)}, {points}, NULL, "
        f"{p(credit.actor)}, {p(credit.reason)}, {p(credit.now)} "
        f"FROM {rows} WHERE {lot} IS NOT NULL), "
        f"credited AS (UPDATE account SET balance = account.balance + {rows}.{points}, "
        f"next_lot_event_at = {_next_event(p, credit.expires_at)} FROM {rows} "
        f"WHERE {rows}.{account} = account.id AND {rows}.{lot} IS NOT NULL"
        f"{in_range('account.id', accounts)})"
    )


async def last_lot_id() -> int:
    """SQLite: the highest lot id; one writer at a time, so the ids after it are free."""
    rows = await db.fetch(queries.LAST_LOT_ID)
    return int(rows[0]["top"])


async def credit_in_steps(rows: str, rows_args: Sequence[Any], credit: Credit) -> None:
    """SQLite: credit every row of the SELECT ``rows`` (columns ``lot_id``, ``account_id``,
    ``points``; its arguments ``rows_args`` are its ``$1..$n``) whose ``lot_id`` is not
    NULL."""
    p = db.Params(*rows_args)
    await db.fetch(
        "UPDATE account SET balance = account.balance + r.points, "
        f"next_lot_event_at = {_next_event(p, credit.expires_at)} FROM ({rows}) AS r "
        "WHERE r.account_id = account.id AND r.lot_id IS NOT NULL",
        *p.values,
    )
    p = db.Params(*rows_args)
    await db.fetch(
        "INSERT INTO lot (id, account, amount, remaining, earned_at, available_from, "
        "expires_at, is_pending, source, receipt_id) "
        f"SELECT lot_id, account_id, points, points, {p(credit.earned_at)}, {p(credit.now)}, "
        f"{p(credit.expires_at)}, false, {p(credit.source)}, NULL "
        f"FROM ({rows}) AS r WHERE lot_id IS NOT NULL",
        *p.values,
    )
    p = db.Params(*rows_args)
    await db.fetch(
        "INSERT INTO journal_entry (account, lot, kind, points, receipt_id, actor, reason, "
        f"created_at) SELECT account_id, lot_id, {p(credit.kind)}, points, NULL, "
        f"{p(credit.actor)}, {p(credit.reason)}, {p(credit.now)} "
        f"FROM ({rows}) AS r WHERE lot_id IS NOT NULL",
        *p.values,
    )


async def announce(credits: str, credits_args: Sequence[Any], *, now: datetime) -> None:
    """Tell the domains above which accounts a set-based credit just moved (webhooks send
    ``points.changed`` for each), in the caller's transaction, after the credit: the SELECT
    ``credits`` (its arguments ``credits_args``) gives ``account_id`` and ``points`` of
    each row credited in bulk (not those ``credit_each`` credited: the door told of them)."""
    await events.publish(
        PointsCreditedInBulk(
            rows=queries.points_changed_rows(credits), args=tuple(credits_args), now=now
        )
    )


async def credit_each(rows: Sequence[tuple[int, int]], credit: Credit) -> list[int]:
    """Credit (account, points) rows one by one through the door, in account order; the
    new lot ids, in the order of ``rows``."""
    lots: dict[int, int] = {}
    for index in sorted(range(len(rows)), key=lambda i: rows[i][0]):
        account_id, points = rows[index]
        async with service.account(account_id, now=credit.now) as acct:
            lots[index] = await acct.earn(
                points,
                kind=credit.kind,
                source=credit.source,
                earned_at=credit.earned_at,
                available_from=credit.now,
                expires_at=credit.expires_at,
                actor=credit.actor,
                reason=credit.reason,
            )
    return [lots[index] for index in range(len(rows))]


# Rows a multi-row statement carries on SQLite: under its 32,766 parameters for 9 columns.
BATCH_ROWS = 3000


async def open_accounts(count: int, *, now: datetime) -> list[int]:
    """``count`` new empty accounts, in the caller's transaction (bulk import)."""
    found = await db.fetch_many(
        [(now,)] * count,
        sqlite=queries.open_accounts,
        postgres=queries.OPEN_ACCOUNTS,
        per_statement=BATCH_ROWS,
    )
    return [int(row["id"]) for row in found]


@dataclass(frozen=True)
class OpeningLot:
    """Points an account brings from elsewhere, valid until their own date."""

    account_id: int
    points: int
    earned_at: datetime
    expires_at: datetime


async def _lot_ids(count: int) -> list[int]:
    if db.is_sqlite():
        top = await last_lot_id()
        return list(range(top + 1, top + count + 1))
    rows = await db.fetch(queries.LOT_IDS, count)
    return [int(row["id"]) for row in rows]


async def credit_lots(
    lots: Sequence[OpeningLot],
    *,
    source: str,
    kind: str,
    actor: str,
    reason: str,
    now: datetime,
) -> list[int]:
    """Credit each row as one available lot with its own expiry and one ``kind`` entry, and
    grow each account's balance by its rows, in a few statements for the whole set, in the
    caller's transaction; returns the lot ids in the order of ``lots``.

    The balance grows by an atomic ``balance + n`` (a till on the same account meanwhile
    keeps its own movement). An account that owes points is credited through the door
    instead, which repays the debt first. Expiry must be in the future (the caller's rule).
    Every account credited is told of (``points.changed``, one event per account and call),
    set-based (``announce``) or by the door.
    """
    if not lots:
        return []
    found = await db.fetch_in(
        sorted({lot.account_id for lot in lots}),
        sqlite=queries.accounts_owing,
        postgres=queries.ACCOUNTS_OWING,
    )
    owing = {int(row["id"]) for row in found}
    direct = [i for i, lot in enumerate(lots) if lot.account_id not in owing]
    ids: dict[int, int] = dict(zip(direct, await _lot_ids(len(direct)), strict=True))
    lot_rows: list[tuple[Any, ...]] = []
    journal_rows: list[tuple[Any, ...]] = []
    per_account: dict[int, tuple[int, datetime]] = {}
    for i in direct:
        lot = lots[i]
        lot_rows.append(
            (ids[i], lot.account_id, lot.points, lot.points, lot.earned_at, now, lot.expires_at)
        )
        journal_rows.append((lot.account_id, ids[i], kind, lot.points, actor, reason, now))
        points, earliest = per_account.get(lot.account_id, (0, lot.expires_at))
        per_account[lot.account_id] = (points + lot.points, min(earliest, lot.expires_at))
    await db.fetch_many(
        [(*row, False, source) for row in lot_rows],
        sqlite=queries.insert_lots,
        postgres=queries.INSERT_LOTS,
        per_statement=BATCH_ROWS,
    )
    await db.fetch_many(
        journal_rows,
        sqlite=queries.insert_journal_rows,
        postgres=queries.INSERT_JOURNAL_ROWS,
        per_statement=BATCH_ROWS,
    )
    await db.fetch_many(
        [(account, p, at) for account, (p, at) in sorted(per_account.items())],
        sqlite=queries.credit_accounts,
        postgres=queries.CREDIT_ACCOUNTS,
        per_statement=BATCH_ROWS,
    )
    if direct:
        # Told as the month-end cashback's credit is: ``points.changed`` for each account,
        # set-based, only if an endpoint asked (else nothing is read); the accounts that
        # owe pass the door below, which tells of them itself.
        await announce(
            queries.lots_credited(sqlite=db.is_sqlite()), [[ids[i] for i in direct]], now=now
        )
    for i, lot in enumerate(lots):
        if lot.account_id in owing:
            async with service.account(lot.account_id, now=now) as acct:
                ids[i] = await acct.earn(
                    lot.points,
                    kind=kind,
                    source=source,
                    earned_at=lot.earned_at,
                    available_from=now,
                    expires_at=lot.expires_at,
                    actor=actor,
                    reason=reason,
                )
    return [ids[i] for i in range(len(lots))]


async def add_spend(rows: Sequence[tuple[int, datetime, int]]) -> None:
    """Money paid before the program (account, when, kopecks) added to lifetime spends and
    to their months, set-based: purchase history brought in so tiers start right."""
    lifetime: dict[int, int] = {}
    months: dict[tuple[int, str], int] = {}
    for account_id, at, kopecks in rows:
        lifetime[account_id] = lifetime.get(account_id, 0) + kopecks
        key = (account_id, service.spend_month(at))
        months[key] = months.get(key, 0) + kopecks
    await db.fetch_many(
        sorted(lifetime.items()),
        sqlite=queries.add_lifetime_spend,
        postgres=queries.ADD_LIFETIME_SPEND,
        per_statement=BATCH_ROWS,
    )
    await db.fetch_many(
        [(f"{a}:{m}", a, m, k) for (a, m), k in sorted(months.items())],
        sqlite=queries.add_spend_months,
        postgres=queries.ADD_SPEND_MONTHS,
        per_statement=BATCH_ROWS,
    )
