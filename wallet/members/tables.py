from piccolo.columns import (
    BigSerial,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from wallet.ledger.tables import Account


class Member(Table, tablename="member"):
    id = Serial(primary_key=True)
    account = ForeignKey(references=Account, index=True)
    name = Varchar(length=200)
    email = Varchar(length=254, null=True, default=None, unique=True)
    phone = Varchar(length=20, null=True, default=None, unique=True)
    birthday = Date(null=True, default=None)
    # Joining records consent to the program and to personal-data processing, with the
    # time and the version of the text the shopper saw (152-FZ asks us to prove it).
    consent_program_at = Timestamptz()
    consent_program_version = Varchar(length=32)
    consent_data_at = Timestamptz()
    consent_data_version = Varchar(length=32)
    # Marketing opt-ins are separate from joining and from each other.
    marketing_email = Boolean(default=False)
    marketing_email_at = Timestamptz(null=True, default=None)
    marketing_push = Boolean(default=False)
    marketing_push_at = Timestamptz(null=True, default=None)
    # Marketing SMS is its own opt-in (sign-in and spend codes are service messages and
    # need none).
    marketing_sms = Boolean(default=False)
    marketing_sms_at = Timestamptz(null=True, default=None)
    join_store_id = Integer(null=True, default=None)
    # The language of every email to the shopper: "ru" or "en" (set when joining, from the
    # join page's language or the API body; the shopper may change it).
    language = Varchar(length=2, default="ru")
    created_at = Timestamptz(default=TimestamptzNow())
    # Set once when the person is erased (152-FZ): the row stays, anonymous, so the ledger's
    # account keeps an owner row and an erase asked twice answers the same.
    erased_at = Timestamptz(null=True, default=None)


class Consent(Table, tablename="member_consent"):
    """Every consent given or withdrawn, never edited: the trail a marketing message is
    traced to (a delivery keeps the id of the row that allowed it).

    ``channel``: program, personal_data, marketing_email, marketing_push or
    marketing_sms.
    ``source``: where it was given (join, api, page, unsubscribe, erase, retention, migration).
    """

    id = BigSerial(primary_key=True)
    member_id = Integer(index=True)
    channel = Varchar(length=20)
    granted = Boolean()
    text_version = Varchar(length=32, default="")
    source = Varchar(length=20, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Card(Table, tablename="card"):
    id = Serial(primary_key=True)
    number = Varchar(length=20, unique=True, index=True)
    account = ForeignKey(references=Account, index=True)
    # virtual or plastic
    kind = Varchar(length=10)
    # main, family or twin (the plastic twin of a virtual card)
    role = Varchar(length=10, default="main")
    # active, blocked or replaced
    status = Varchar(length=10, default="active")
    holder_name = Varchar(length=200, default="")
    replaced_by = Varchar(length=20, null=True, default=None)
    # The Apple pass serial (and Google object suffix) stays with the card for its life.
    pass_serial = Varchar(length=40, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
