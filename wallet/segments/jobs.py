"""Nightly RFM scoring: once per local day, after 03:00 in the program's zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import clock
from wallet import settings as settings_module
from wallet.platform.worker import register, register_schedule
from wallet.segments import service

SCORE_AFTER_HOUR = 3


def nightly_slot(now: datetime) -> str | None:
    local = now.astimezone(settings_module.get().tz)
    return local.date().isoformat() if local.hour >= SCORE_AFTER_HOUR else None


async def score(_: dict[str, Any]) -> None:
    await service.score_rfm(now=clock.now())


register("rfm_score", score, max_attempts=3)
register_schedule("rfm_nightly", kind="rfm_score", slot=nightly_slot)
