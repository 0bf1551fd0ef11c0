"""Messages a shopper was sent (or was to be sent), for their data export: each with its
channel, time and the consent row that allowed it."""

from __future__ import annotations

from typing import Any

from wallet import db
from wallet.campaigns import queries


async def deliveries_of_account(account_id: int) -> list[dict[str, Any]]:
    return await db.fetch(queries.DELIVERIES_OF_ACCOUNT, account_id)


async def cancel_queued(account_id: int) -> int:
    """Erasure: the shopper's queued messages will never go (marked skipped at once rather
    than left for the send-time consent check, so the figures say why)."""
    rows = await db.fetch(queries.CANCEL_QUEUED_OF_ACCOUNT, account_id)
    return len(rows)
