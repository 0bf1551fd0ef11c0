from piccolo.columns import Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class SignInCode(Table, tablename="signin_code"):
    """A six-digit code emailed to a member, kept as a hash; 10 minutes, five tries."""

    id = Serial(primary_key=True)
    email = Varchar(length=254, index=True)
    code_hash = Varchar(length=64)
    member_id = Integer()
    attempts = Integer(default=0)
    expires_at = Timestamptz()
    # Set when the code signed someone in or a newer code replaced it.
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class SendEvent(Table, tablename="signin_send_event"):
    """One code sent (or asked for), by address and by IP: the rate limits count these."""

    id = Serial(primary_key=True)
    key = Varchar(length=300, index=True)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class PageSession(Table, tablename="page_session"):
    """A signed-in browser. The cookie holds the token; only its SHA-256 is kept."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True)
    member_id = Integer(index=True)
    account_id = Integer()
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
