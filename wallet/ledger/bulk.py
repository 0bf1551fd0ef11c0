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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wallet import db
from wallet.ledger import queries, service

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
