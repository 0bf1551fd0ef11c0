"""The ledger as a shopper's data export and the retention rule see it: every movement of
one account, and which accounts moved lately."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import db
from wallet.ledger.tables import JournalEntry


async def movements(account_id: int) -> list[dict[str, Any]]:
    """Every point movement of the account, oldest first (the export has no pages)."""
    return (
        await JournalEntry.select(  # type: ignore[no-any-return]
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.points,
            JournalEntry.receipt_id,
            JournalEntry.reason,
            JournalEntry.created_at,
        )
        .where(JournalEntry.account == account_id)
        .order_by(JournalEntry.id)
    )


async def accounts_moved_since(account_ids: list[int], since: datetime) -> set[int]:
    """The accounts among ``account_ids`` with a movement at or after ``since`` (points
    burning on their own are not the shopper doing anything)."""
    moved: set[int] = set()
    for chunk in db.chunks(sorted(set(account_ids))):
        rows = (
            await JournalEntry.select(JournalEntry.account)
            .where(
                JournalEntry.account.is_in(chunk)
                & (JournalEntry.created_at >= since)
                & (JournalEntry.kind != "expire")
            )
            .distinct()
        )
        moved.update(int(row["account"]) for row in rows)
    return moved
