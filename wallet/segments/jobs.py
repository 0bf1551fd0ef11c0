"""Nightly RFM scoring: once per local day, after 03:00 in the program's zone; and the
month-end record of every account's tier and RFM group, once per month (``standing``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import clock
from wallet import settings as settings_module
from wallet.platform.worker import register, register_schedule
from wallet.segments import service, standing

SCORE_AFTER_HOUR = 3


def nightly_slot(now: datetime) -> str | None:
    local = now.astimezone(settings_module.get().tz)
    return local.date().isoformat() if local.hour >= SCORE_AFTER_HOUR else None


async def score(_: dict[str, Any]) -> None:
    await service.score_rfm(now=clock.now())


register("rfm_score", score, max_attempts=3)
register_schedule("rfm_nightly", kind="rfm_score", slot=nightly_slot)


def month_end_slot(now: datetime) -> str:
    """The month that ended last (in the program's zone): recorded once, from its 1st on."""
    return standing.shift_month(standing.month_key(now), -1)


async def record_month_end(payload: dict[str, Any]) -> None:
    month = payload["slot"]
    # A schedule run ahead of the clock (tests, a catch-up) acts as of the month's end.
    await standing.record_month(month, now=max(clock.now(), standing.month_end(month)))


register("segments.month_end", record_month_end, max_attempts=5)
register_schedule("segments.month_end", kind="segments.month_end", slot=month_end_slot)
