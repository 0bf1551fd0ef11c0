"""Campaigns, their figures, previews and test sends at the API boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from wallet import inputs
from wallet.members.schemas import CardNumber, Email
from wallet.segments.schemas import SegmentFilter

# "push" goes on the Apple/Google pass; "koshelek" to the card in «Кошелёк» (by phone).
Channel = Literal["email", "push", "koshelek"]
Rate = Annotated[int, msgspec.Meta(ge=0, le=100_000, description="messages/s; 0 = default")]
Template = Annotated[str, msgspec.Meta(pattern=r"^campaign_[a-z0-9_]{1,50}$")]


class CampaignIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A draft. The audience is a saved segment (``segment_id``) or an inline ``filter``.
    ``subject``, ``body`` and ``push_text`` may use ``{{ name }}``, ``{{ balance }}``,
    ``{{ burning_points }}``, ``{{ burning_date }}``."""

    name: inputs.Name
    channels: Annotated[list[Channel], msgspec.Meta(min_length=1, max_length=3)] = msgspec.field(
        default_factory=lambda: ["email"]
    )
    segment_id: inputs.Id | None = None
    filter: SegmentFilter | None = None
    template: Template = "campaign_default"
    subject: inputs.Subject = ""
    body: inputs.Body = ""
    push_header: inputs.PushHeader = ""
    push_text: inputs.PushText = ""
    email_rate: Rate = 0
    push_rate: Rate = 0


class ChannelFigures(msgspec.Struct, frozen=True):
    channel: str
    targeted: int
    pending: int
    sent: int
    failed: int
    skipped: int
    cancelled: int
    unsubscribed: int
    # failed and skipped, by reason
    reasons: dict[str, int]
    # Sent, but a worker that died had begun sending the same message before (between the
    # receiver's "accepted" and our mark): these shoppers may have it twice.
    maybe_twice: int = 0


class CampaignOut(msgspec.Struct, frozen=True):
    id: int
    name: str
    kind: str
    channels: list[str]
    segment_id: int | None
    filter: SegmentFilter | None
    template: str
    subject: str
    body: str
    push_header: str
    push_text: str
    status: str
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    email_rate: int
    push_rate: int
    created_by: str
    created_at: datetime
    figures: list[ChannelFigures]


class ScheduleIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When to send. A time without an offset is read in the program's time zone."""

    at: datetime


class TestSendIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Send this campaign's message now to one address (email) or one card (push), outside
    the audience and the figures."""

    email: Email | None = None
    card_number: CardNumber | None = None


class TestSendOut(msgspec.Struct, frozen=True):
    sent: list[str]


class CampaignPreview(msgspec.Struct, frozen=True):
    audience: int
    sample_account_id: int | None
    email_subject: str
    email_html: str
    email_text: str
    push_header: str
    push_text: str
