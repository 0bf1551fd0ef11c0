from piccolo.columns import Float, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Store(Table, tablename="store"):
    id = Serial(primary_key=True)
    code = Varchar(length=32, unique=True, index=True)
    name = Varchar(length=200)
    address = Varchar(length=400, default="")
    latitude = Float(null=True, default=None)
    longitude = Float(null=True, default=None)
    time_zone = Varchar(length=64, default="Europe/Moscow")
    created_at = Timestamptz(default=TimestamptzNow())
