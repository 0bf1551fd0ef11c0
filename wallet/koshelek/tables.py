"""What Кошелёк knows of our shoppers: the cards issued in it (with the consents only it
collects), and every push we sent through it with its delivery status.

Accounts and campaign deliveries are referred to by id, with no foreign keys into other
domains.
"""

from piccolo.columns import BigInt, BigSerial, Boolean, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class KoshelekCard(Table, tablename="koshelek_card"):
    id = Serial(primary_key=True)
    account_id = Integer(unique=True)
    card_number = Varchar(length=20)
    msisdn = Varchar(length=16, default="")
    # SMS and calls are channels only Кошелёк asks about (we send neither yet): kept with
    # the time, for the day an SMS channel reads them. Email and push go to the member.
    marketing_sms = Boolean(null=True, default=None)
    marketing_call = Boolean(null=True, default=None)
    issued_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class KoshelekPush(Table, tablename="koshelek_push"):
    id = BigSerial(primary_key=True)
    # Кошелёк's id of the message (its callbacks name it); null when it gave none.
    message_id = Varchar(length=64, null=True, default=None, unique=True)
    account_id = Integer(index=True)
    # PROMO (a campaign), TRANSACTION (a receipt moved the balance), SERVICE
    push_type = Varchar(length=12)
    # The campaign delivery row a PROMO push went out for.
    delivery_id = BigInt(null=True, default=None)
    # ENQUEUED, MSISDN_NOT_REGISTERED, then DELIVERED and OPENED from the callbacks
    state = Varchar(length=24)
    sent_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)
    opened_at = Timestamptz(null=True, default=None)
