"""What support sees of one shopper over time: joining, receipts, returns, adjustments and
other movements of points, messages, passes saved in a wallet and consent changes, newest
first, in one list. Built from the same reads as the data export (one door to a person's
data), and recorded in the access trail (``support.timeline``) before it is shown."""

from __future__ import annotations

from datetime import datetime

from wallet import db
from wallet.platform import service as platform
from wallet.privacy.schemas import Export, Timeline, TimelineEvent

# Movements a receipt or a return made are shown with that receipt, not again on their own.
_RECEIPT_KINDS = {"earn", "redeem", "return", "refund", "debt", "repay"}


def _events(data: Export) -> list[TimelineEvent]:
    profile = data.profile
    events = [
        TimelineEvent(
            at=profile.joined_at,
            kind="joined",
            summary="joined the program",
            details={"member_id": profile.member_id, "account_id": profile.account_id},
        )
    ]
    for consent in data.consents:
        events.append(
            TimelineEvent(
                at=consent.at,
                kind="consent",
                summary=f"{consent.channel} {'given' if consent.granted else 'withdrawn'}",
                details={
                    "channel": consent.channel,
                    "granted": consent.granted,
                    "text_version": consent.text_version,
                    "source": consent.source,
                },
            )
        )
    for receipt in data.receipts:
        events.append(
            TimelineEvent(
                at=receipt["occurred_at"],
                kind="receipt",
                summary=f"receipt {receipt['receipt_id']} at {receipt['store']}",
                details={
                    key: receipt[key]
                    for key in (
                        "receipt_id",
                        "store",
                        "card_number",
                        "total_kopecks",
                        "paid_kopecks",
                        "redeemed_points",
                        "earned_points",
                        "refunded_points",
                    )
                },
            )
        )
        for returned in receipt["returns"]:
            events.append(
                TimelineEvent(
                    at=returned["occurred_at"],
                    kind="return",
                    summary=f"return {returned['return_id']} of receipt {receipt['receipt_id']}",
                    details={
                        "return_id": returned["return_id"],
                        "receipt_id": receipt["receipt_id"],
                    },
                )
            )
    for movement in data.movements:
        if movement["receipt_id"] is not None and movement["kind"] in _RECEIPT_KINDS:
            continue
        kind = "adjustment" if movement["kind"] == "adjust" else "points"
        events.append(
            TimelineEvent(
                at=db.timestamp(movement["created_at"]) or data.exported_at,
                kind=kind,
                summary=f"{movement['kind']} {movement['points']:+d} points",
                details={
                    "movement": movement["kind"],
                    "points": movement["points"],
                    "reason": movement["reason"],
                },
            )
        )
    for message in data.messages:
        at = db.timestamp(message["sent_at"]) or db.timestamp(message["created_at"])
        events.append(
            TimelineEvent(
                at=at or data.exported_at,
                kind="message",
                summary=f"{message['channel']} «{message['campaign']}»: {message['status']}",
                details={
                    "campaign_id": message["campaign_id"],
                    "channel": message["channel"],
                    "status": message["status"],
                    "reason": message["reason"],
                    "consent_id": message["consent_id"],
                },
            )
        )
    for device in data.devices:
        events.append(
            TimelineEvent(
                at=db.timestamp(device["created_at"]) or data.exported_at,
                kind="pass",
                summary=f"pass saved in {device['wallet'].title()} Wallet",
                details={"wallet": device["wallet"]},
            )
        )
    return events


async def support_timeline(
    data: Export, *, actor: str, reason: str, limit: int, before: datetime | None
) -> Timeline:
    """``data``: the shopper's export. Newest first, at most ``limit`` events older than
    ``before`` (the previous page's last ``at``)."""
    events = sorted(_events(data), key=lambda event: event.at, reverse=True)
    if before is not None:
        events = [event for event in events if event.at < before]
    page = events[:limit]
    async with db.write_transaction():
        await platform.audit(
            actor=actor,
            action="support.timeline",
            subject=f"member:{data.profile.member_id}",
            details={"reason": reason},
        )
    return Timeline(
        member_id=data.profile.member_id,
        account_id=data.profile.account_id,
        events=page,
        more=len(events) > limit,
    )
