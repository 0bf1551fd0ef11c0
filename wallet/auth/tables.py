from piccolo.columns import ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from wallet.members.tables import Member


class ApiKey(Table, tablename="api_key"):
    """A staff or till key. Only the SHA-256 of the key is kept; the key is shown once."""

    id = Serial(primary_key=True)
    key_hash = Varchar(length=64, unique=True)
    prefix = Varchar(length=16)
    # pos, support, marketer or admin
    role = Varchar(length=16)
    store_id = Integer(null=True, default=None)
    name = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)


class ShopperToken(Table, tablename="shopper_token"):
    """A shopper's bearer token (app or pages session); kept hashed like the keys."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True)
    member = ForeignKey(references=Member, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)


class TillSession(Table, tablename="till_session"):
    """A tablet signed in to the web till (/till) with a till key. The browser holds only a
    random token (its SHA-256 is kept here); the key stays on the server, and revoking the
    key ends every session opened with it."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True)
    key = ForeignKey(references=ApiKey, index=True)
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
