"""Webhooks over HTTP: what an admin sends and sees."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec

from wallet.inputs import LINE_PATTERN

# The events a system may subscribe to, as the body's ``type`` names them. Only the ones
# some domain publishes are offered (README, "Webhooks", lists those still missing).
EventType = Literal[
    "member.joined",
    "member.changed",
    # A shopper was erased (152-FZ): the receiver deletes its copy (ids only, no person).
    "member.erased",
    "consent.changed",
    "card.issued",
    "card.blocked",
    "points.changed",
    "tier.changed",
    "coupon.issued",
    "coupon.used",
    "cashback.settled",
    "receipt.posted",
    "receipt.returned",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=9, max_length=2000, pattern=LINE_PATTERN, description="https://... (public)"
    ),
]
# ``erased``: the shopper it was about was erased before it went out; never sent.
DeliveryStatus = Literal["pending", "sending", "delivered", "failed", "erased"]


class WebhookIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An HTTPS endpoint on a public address and the events it wants."""

    url: Url
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EVENT_TYPES))]


class WebhookOut(msgspec.Struct, frozen=True):
    id: int
    url: str
    events: list[str]
    # active, or disabled (by an admin, or after repeated failure: ``disabled_reason``).
    status: Literal["active", "disabled"]
    disabled_reason: str
    # Failed attempts in a row, and since when.
    failures: int
    failing_since: datetime | None
    created_by: str
    created_at: datetime


class WebhookCreated(msgspec.Struct, frozen=True):
    """The new endpoint and its signing secret: shown this once, never again."""

    webhook: WebhookOut
    secret: str


class DeliveryOut(msgspec.Struct, frozen=True):
    id: int
    event_id: str
    event_type: str
    account_id: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    # The receiver's last HTTP status (None: no reply: refused, timed out, address refused).
    last_status: int | None
    last_error: str
    # The delivery this one replays (same event id and body).
    replay_of: int | None
    created_at: datetime
    delivered_at: datetime | None
