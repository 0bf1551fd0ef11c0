from piccolo.columns import BigSerial, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class SmsMessage(Table, tablename="sms_message"):
    """One SMS to one phone, from queued to the operator's delivery receipt.

    ``status``: queued, sent (the SMSC accepted every part), delivered, failed, expired
    (from the receipt), or dead (the SMSC refused it for good). The text is kept only
    until it is sent: a sign-in code must not stay readable in the database.
    """

    id = BigSerial(primary_key=True)
    phone = Varchar(length=20)
    kind = Varchar(length=20)
    # The sender name it goes out under; empty: WALLET_SMPP_SENDER.
    sender = Varchar(length=15, default="")
    # What sent it, for counting its receipts (``campaign:<id>``); empty for service SMS.
    tag = Varchar(length=40, default="", index=True)
    text = Varchar(length=1600, default="")
    parts = Integer(default=1)
    status = Varchar(length=12, default="queued")
    # The SMSC's id of the last part: its receipt is the message's.
    smsc_message_id = Varchar(length=65, null=True, default=None, unique=True)
    error = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    receipt_at = Timestamptz(null=True, default=None)
