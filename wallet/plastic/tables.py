from piccolo.columns import Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class PlasticCode(Table, tablename="plastic_code"):
    """The activation code printed under the scratch layer of one plastic card, kept as a
    SHA-256 of number and code; the code itself is printed once, by ``wallet plastic create``."""

    id = Serial(primary_key=True)
    card_id = Integer(unique=True)
    card_number = Varchar(length=20, unique=True)
    code_hash = Varchar(length=64)
    batch = Varchar(length=40, default="")
    # Wrong codes on this card since it was last locked; five lock it for an hour.
    failed_attempts = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    activated_at = Timestamptz(null=True, default=None)
    activated_account_id = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class ActivationFailure(Table, tablename="plastic_activation_failure"):
    """One wrong number or code, per shopper account: limits guessing across many cards."""

    id = Serial(primary_key=True)
    account_id = Integer(index=True)
    card_number = Varchar(length=20, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
