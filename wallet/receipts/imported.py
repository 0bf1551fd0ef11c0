"""Purchases from the shopper's previous program (``wallet import receipts``): kept as
they came, apart from our own receipts (no store, lines or points here: they earned points
in the old program), so the shopper's history shows them, marked as from the old program.
The import writes them set-based in its batch's transaction; the history reads them a page
at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from wallet import db
from wallet.receipts import queries

# Rows a multi-row INSERT carries on SQLite: 6 columns, under its 32,766 parameters.
BATCH_ROWS = 4000


class ImportedPurchase(msgspec.Struct, frozen=True):
    """One purchase of the old program, as the import read it."""

    account_id: int
    old_id: str
    occurred_at: datetime
    paid_kopecks: int
    category: str


async def add(purchases: Sequence[ImportedPurchase], *, now: datetime) -> None:
    """Keep the purchases, in the caller's transaction (the import's batch: its old ids
    are recorded there too, so a second run of the file adds none twice)."""
    await db.fetch_many(
        [
            (p.account_id, p.old_id, p.occurred_at, p.paid_kopecks, p.category, now)
            for p in purchases
        ],
        sqlite=queries.insert_imported,
        postgres=queries.INSERT_IMPORTED,
        per_statement=BATCH_ROWS,
    )


class Kept(msgspec.Struct, frozen=True):
    """A kept purchase of the old program, as the history shows it."""

    id: int
    old_id: str
    occurred_at: datetime
    paid_kopecks: int
    category: str


async def page(
    account_id: int,
    *,
    after: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int,
) -> list[Kept]:
    """The account's purchases from its old program, newest first: those that happened in
    (``after``, ``until``], or those older than the one with id ``before_id``; at most
    ``limit``."""
    text, args = queries.imported_page(
        account_id, after=after, until=until, before_id=before_id, limit=limit
    )
    return [Kept(**row) for row in await db.fetch(text, *args)]
