"""Campaigns, their figures, previews and test sends at the API boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from wallet import inputs
from wallet.members.schemas import CardNumber, Email
from wallet.segments.schemas import SegmentFilter

# "push" goes on the Apple/Google pass; "koshelek" to the card in «Кошелёк» (by phone).
# "sms": marketing SMS over SMPP to shoppers who opted in to them.
Channel = Literal["email", "push", "koshelek", "sms"]
Rate = Annotated[int, msgspec.Meta(ge=0, le=100_000, description="messages/s; 0 = default")]
SmsSender = Annotated[str, msgspec.Meta(max_length=15, pattern=r"^[A-Za-z0-9 .+\-]*$")]
HoldoutBp = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=5000,
        description="share of the audience held out as a control group, in basis points "
        "(1000 = 10%): chosen by a hash of campaign and account, sent nothing on any channel",
    ),
]
Template = Annotated[str, msgspec.Meta(pattern=r"^campaign_[a-z0-9_]{1,50}$")]


class CampaignIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A draft. The audience is a saved segment (``segment_id``) or an inline ``filter``.
    ``subject``, ``body`` and ``push_text`` may use ``{{ name }}``, ``{{ balance }}``,
    ``{{ burning_points }}``, ``{{ burning_date }}``, and ``{{ burning }}`` ("300 баллов
    сгорят 31 января 2027", empty when nothing burns); ``{{ balance|points }}`` writes
    "22 балла" with the right form. In ``body``, ``[text](https://…)`` is a link and a
    paragraph of only ``[text](https://…)`` or ``[text]`` a button (the card page)."""

    name: inputs.Name
    channels: Annotated[list[Channel], msgspec.Meta(min_length=1, max_length=4)] = msgspec.field(
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
    # SMS: at most WALLET_SMS_MAX_PARTS parts; a sender name the settings list (empty:
    # WALLET_SMPP_SENDER).
    sms_text: inputs.SmsText = ""
    sms_sender: SmsSender = ""
    sms_rate: Rate = 0
    holdout_bp: HoldoutBp = 0


class SmsFigures(msgspec.Struct, frozen=True):
    """What the SMS outbox and the operator's delivery receipts say of a campaign's SMS.
    ``queued``: waiting for the SMSC (or the morning); ``sent``: taken by the SMSC, no
    receipt yet; ``delivered``/``failed``/``expired``: the receipt; ``refused``: the SMSC
    refused the message; ``parts`` sent and their ``cost_kopecks`` at the settings' price."""

    queued: int
    sent: int
    delivered: int
    failed: int
    expired: int
    refused: int
    parts: int
    cost_kopecks: int


class ChannelFigures(msgspec.Struct, frozen=True, omit_defaults=True):
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
    # shoppers who followed a link or the button of the email (first click each)
    clicked: int
    # Sent, but a worker that died had begun sending the same message before (between the
    # receiver's "accepted" and our mark): these shoppers may have it twice.
    maybe_twice: int
    # The channel sms only (left out for the others).
    sms: SmsFigures | None = None


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
    sms_text: str
    sms_sender: str
    status: str
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None
    # who cancelled it (an actor: "marketer:Мария"); "" while it is not cancelled
    cancelled_by: str
    email_rate: int
    push_rate: int
    sms_rate: int
    created_by: str
    created_at: datetime
    figures: list[ChannelFigures]
    holdout_bp: int = 0


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


class ChannelReach(msgspec.Struct, frozen=True):
    """Who of the audience a channel would reach if the campaign went now, and why the
    others would not (no_consent, unsubscribed, no_email, no_phone, no_wallet)."""

    channel: str
    reachable: int
    unreachable: dict[str, int]


class CampaignPreview(msgspec.Struct, frozen=True):
    # the segment's size
    audience: int
    # shoppers reached on at least one of the campaign's channels, and per channel
    reachable: int
    channels: list[ChannelReach]
    sample_account_id: int | None
    email_subject: str
    email_html: str
    email_text: str
    push_header: str
    push_text: str
    # SMS: the sample's text, its parts, how many of the audience opted in to marketing SMS
    # and have a number, and the cost of sending them all at the settings' price a part.
    sms_text: str = ""
    sms_parts: int = 0
    sms_audience: int = 0
    sms_cost_kopecks: int = 0
