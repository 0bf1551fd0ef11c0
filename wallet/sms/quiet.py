"""Quiet hours: no marketing SMS at night in the program's time zone.

Russian advertising law (38-FZ, art. 18) and operators' rules keep marketing messages
from waking people: by default none goes out between 21:00 and 09:00 local time
(``WALLET_SMS_QUIET_HOURS``). A marketing message due in those hours is held until they
end, never dropped. Service messages (sign-in codes, spend codes) are not marketing and
are never held.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from wallet import clock
from wallet import settings as settings_module

MARKETING = "marketing"


def quiet_until(now: datetime) -> datetime | None:
    """When the quiet hours that ``now`` falls in end (UTC); None outside them."""
    s = settings_module.get()
    start, end = s.sms_quiet_hours
    if start == end:
        return None
    local = now.astimezone(s.tz)
    minute = local.hour * 60 + local.minute
    quiet = start <= minute < end if start < end else (minute >= start or minute < end)
    if not quiet:
        return None
    day = local.date() if minute < end else local.date() + timedelta(days=1)
    # Built from the wall-clock time in the zone, so a DST change is honoured.
    ends = datetime(day.year, day.month, day.day, end // 60, end % 60, tzinfo=s.tz)
    return clock.to_utc(ends)
