"""Messages a shopper was sent (or was to be sent), for their data export: each with its
channel, time and the consent row that allowed it."""

from __future__ import annotations

from typing import Any

from wallet import db


async def deliveries_of_account(account_id: int) -> list[dict[str, Any]]:
    return await db.raw(
        "SELECT d.id, d.campaign_id, c.name AS campaign, c.kind, d.channel, d.status, "
        "d.reason, d.sent_at, d.created_at, d.consent_id FROM delivery d "
        "JOIN campaign c ON c.id = d.campaign_id WHERE d.account_id = {} ORDER BY d.id",
        account_id,
    )


async def cancel_queued(account_id: int) -> int:
    """Erasure: the shopper's queued messages will never go (marked skipped at once rather
    than left for the send-time consent check, so the figures say why)."""
    rows = await db.raw(
        "UPDATE delivery SET status = 'skipped', reason = 'consent_withdrawn' "
        "WHERE account_id = {} AND status = 'pending' RETURNING id",
        account_id,
    )
    return len(rows)
