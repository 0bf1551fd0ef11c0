"""What the shopper's history reads of receipts beyond the journal: the receipts behind its
entries, and the receipts that moved no points (the journal has no line for them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import db
from wallet.receipts.tables import Receipt

# A line's note when its category earns nothing (wallet/receipts/pricing.py).
NO_EARN_NOTE = "earns no points"


def _excluded(line: dict[str, Any]) -> bool:
    return any(str(note).endswith(NO_EARN_NOTE) for note in line.get("notes") or [])


async def receipts_without_points(
    account_id: int, *, after: datetime | None, until: datetime | None, limit: int = 100
) -> list[dict[str, Any]]:
    """Receipts of the account that moved no points (earned nothing, redeemed nothing)
    posted in (after, until], newest first, with the categories that earn nothing: the
    history lists them too, so a shopper who bought only alcohol sees why no points came."""
    query = (
        Receipt.select(
            Receipt.id,
            Receipt.external_id,
            Receipt.store.name.as_alias("store_name"),
            Receipt.occurred_at,
            Receipt.posted_at,
            Receipt.total_kopecks,
            Receipt.result,
        )
        .where(
            (Receipt.account_id == account_id)
            & (Receipt.earned_points == 0)
            & (Receipt.redeemed_points == 0)
        )
        .order_by(Receipt.posted_at, ascending=False)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Receipt.posted_at > after)
    if until is not None:
        query = query.where(Receipt.posted_at <= until)
    found = []
    for row in await query:
        result = db.json_value(row.pop("result")) or {}
        lines = result.get("lines") or []
        row["no_points_categories"] = sorted(
            {str(line.get("category")) for line in lines if _excluded(line)}
        )
        row["every_line_excluded"] = bool(lines) and all(_excluded(line) for line in lines)
        found.append(row)
    return found


async def receipts_by_id(receipt_pks: set[int]) -> dict[int, dict[str, Any]]:
    """Receipt id, store and time for a set of internal ids (history pages)."""
    if not receipt_pks:
        return {}
    rows = await Receipt.select(
        Receipt.id,
        Receipt.external_id,
        Receipt.store,
        Receipt.store.name.as_alias("store_name"),
        Receipt.occurred_at,
        Receipt.total_kopecks,
    ).where(Receipt.id.is_in(list(receipt_pks)))
    return {row["id"]: row for row in rows}
