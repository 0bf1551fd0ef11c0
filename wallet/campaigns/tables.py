"""Campaigns and their deliveries (one row per campaign, shopper and channel).

Accounts and segments are referred to by id, with no foreign keys into other domains.
"""

from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Campaign(Table, tablename="campaign"):
    id = Serial(primary_key=True)
    name = Varchar(length=200)
    # manual (a marketer's campaign) or an automatic trigger: welcome, birthday,
    # points_burning, goal_reached, goal_missed.
    kind = Varchar(length=20, default="manual", index=True)
    # Any of "email", "push", "koshelek", "sms".
    channels = JSON(default='["email"]')
    # The audience: a saved segment's filter, copied when the campaign starts sending.
    segment_id = Integer(null=True, default=None)
    filter = JSON(default="{}")
    # Email: a template in templates/email/ (campaign_*), a subject and a body paragraph
    # (both Jinja, with the shopper's name, balance, burning points).
    template = Varchar(length=64, default="campaign_default")
    subject = Varchar(length=300, default="")
    body = Text(default="")
    # Wallet push: the lock-screen text shown through the pass's message field.
    push_header = Varchar(length=100, default="")
    push_text = Varchar(length=300, default="")
    # SMS: the text (Jinja like the others), the sender name (empty: WALLET_SMPP_SENDER).
    sms_text = Text(default="")
    sms_sender = Varchar(length=15, default="")
    # draft, scheduled, sending, sent, cancelled; undelivered: finished with nobody
    # reached (every delivery skipped or failed), so it never reads as "sent"
    status = Varchar(length=12, default="draft", index=True)
    scheduled_at = Timestamptz(null=True, default=None)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_by = Varchar(length=100, default="")
    # Messages per second per channel (0 = the default of the channel).
    email_rate = Integer(default=0)
    push_rate = Integer(default=0)
    sms_rate = Integer(default=0)
    # The control group's share of the audience in basis points (see campaigns/holdout.py).
    holdout_bp = Integer(default=0)
    created_by = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Delivery(Table, tablename="delivery"):
    """Made before anything is sent, so a restart resumes where it stopped and never sends
    a row twice: ``key`` = "<campaign>:<account>:<channel>[:<occasion>]" is unique."""

    id = BigSerial(primary_key=True)
    key = Varchar(length=120, unique=True)
    campaign_id = Integer(index=True)
    account_id = Integer(index=True)
    channel = Varchar(length=8)
    # pending, sending (claimed by a worker until claimed_until), sent, failed, skipped,
    # cancelled
    status = Varchar(length=10, default="pending", index=True)
    # Why it failed or was skipped: no_consent, no_email, no_wallet, refused, ...
    reason = Varchar(length=200, default="")
    attempts = Integer(default=0)
    claimed_until = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None)
    # When the worker holding the row began sending it (email, Кошелёк); cleared by the
    # next claim. A row claimed again while started was perhaps sent by a worker that died
    # before marking it: ``doubtful_at`` says when that was found (the figures' maybe_twice).
    started_at = Timestamptz(null=True, default=None)
    doubtful_at = Timestamptz(null=True, default=None)
    unsubscribed_at = Timestamptz(null=True, default=None)
    # The consent row (member_consent) that allowed this marketing message: channel, text
    # version, time and source of the shopper's opt-in (152-FZ asks us to show it).
    consent_id = BigInt(null=True, default=None)
    # The first time the shopper followed a link of this email (wallet/campaigns/clicks.py).
    clicked_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
