"""What this domain keeps per card: the pass's update tag and message, the devices that
registered it, and the Google objects shoppers saved.

Cards and accounts are referenced by id only (they belong to the members and ledger
domains); nothing here is a foreign key into another domain's table.
"""

from piccolo.columns import (
    BigInt,
    BigSerial,
    Boolean,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class PassCard(Table, tablename="pass_card"):
    """One row per card whose pass was ever served (Apple) or saved (Google).

    ``tag`` is the value of the global update counter at the pass's last change: devices
    ask "what changed since tag N", so tags must grow in commit order (see service.py).
    ``modified_at`` is Last-Modified, whole seconds, strictly increasing per pass.
    The authentication token is not stored at all: it is HMAC(secret key, serial).
    """

    id = Serial(primary_key=True)
    card_id = Integer(unique=True)
    account_id = Integer(index=True)
    serial = Varchar(length=40, unique=True)
    tag = BigInt(default=0, index=True)
    modified_at = Timestamptz(default=TimestamptzNow())
    # sha256 of what the pass shows; a job that finds it unchanged pushes nothing.
    fingerprint = Varchar(length=64, default="")
    # The marketer's latest message, shown in the pass's message field (changeMessage %@).
    message_id = Varchar(length=100, default="")
    message_header = Varchar(length=200, default="")
    message_text = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class PassTagCounter(Table, tablename="pass_tag_counter"):
    """A single row (id 1). Bumping it takes its row lock until commit, so the tags given to
    passes are committed in increasing order and a device never skips a change."""

    id = Integer(primary_key=True)
    value = BigInt(default=0)


class PassRegistration(Table, tablename="pass_registration"):
    """A device that added a pass and asked for its updates (PassKit web service)."""

    id = BigSerial(primary_key=True)
    # "device:serial": Piccolo has no composite unique constraint.
    key = Varchar(length=200, unique=True)
    device_id = Varchar(length=128, index=True)
    serial = Varchar(length=40, index=True)
    push_token = Varchar(length=256)
    # The pass tag this device was last pushed for; a push job sends where it is behind.
    pushed_tag = BigInt(default=0)
    # Set while a push worker holds this device (see service.push_due); a worker that died
    # lets go when it passes.
    pushing_until = Timestamptz(null=True, default=None)
    # Set in the transaction that gives the pass a new tag (``refresh_accounts``), cleared by
    # the push that told the device about the newest tag: the sweep finds its devices through
    # a partial index on this flag instead of comparing every registration with its pass.
    push_due = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class GoogleObject(Table, tablename="google_object"):
    """A card's Google Wallet LoyaltyObject, from the shopper's first "Save" on."""

    id = Serial(primary_key=True)
    card_id = Integer(unique=True)
    account_id = Integer(index=True)
    object_id = Varchar(length=120, unique=True)
    # Google holds it (inserted through the REST API, or found there on a 409).
    inserted = Boolean(default=False)
    saved_at = Timestamptz(default=TimestamptzNow())


class GoogleMessage(Table, tablename="google_message"):
    """Messages added to Google objects: TEXT_AND_NOTIFY is allowed 3 times per object per
    24 h (Google answers 403 quotaExceeded above that), so we count them here."""

    id = BigSerial(primary_key=True)
    # "object_id:message_id": a retried campaign step adds the message once.
    key = Varchar(length=240, unique=True)
    object_id = Varchar(length=120, index=True)
    notify = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
