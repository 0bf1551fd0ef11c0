"""The ledger's clock: lots mature and expire with time, not only when a till writes.

Every five minutes the worker settles the accounts whose earliest lot event (maturity or
expiry) has passed, so pending points become spendable and burnt points disappear from
the passes on their own, without waiting for the next receipt or the daily sweep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import clock
from wallet.ledger import month_end, service
from wallet.platform.worker import register, register_schedule


def every_five_minutes(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:") + f"{now.minute // 5 * 5:02d}"


async def settle_due(payload: dict[str, Any]) -> None:
    await service.expire_due(now=clock.now())


register("ledger.clock", settle_due, max_attempts=3)
register_schedule("ledger.clock", kind="ledger.clock", slot=every_five_minutes)


def month_end_slot(now: datetime) -> str:
    """The month that ended last (in the program's zone): recorded once, from its 1st on."""
    return month_end.shift_month(month_end.month_key(now), -1)


async def record_month_end(payload: dict[str, Any]) -> None:
    """Every account's lots and debt at the end of the month that just ended (the
    liability report's starting point for a past moment)."""
    month = payload["slot"]
    # A schedule run ahead of the clock (tests, a catch-up) acts as of the month's end.
    await month_end.record_month(month, now=max(clock.now(), month_end.month_end(month)))


register("ledger.month_end", record_month_end, max_attempts=5)
register_schedule("ledger.month_end", kind="ledger.month_end", slot=month_end_slot)
