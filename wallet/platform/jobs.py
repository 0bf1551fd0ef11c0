"""What the worker runs for the platform itself: the daily housekeeping."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from wallet import clock
from wallet import settings as settings_module
from wallet.platform import service
from wallet.platform.worker import register, register_schedule

log = logging.getLogger("wallet.platform")


def nightly_slot(now: datetime) -> str | None:
    """Once a day, after 03:00 in the program's zone (the quiet hours of a grocery chain)."""
    local = now.astimezone(settings_module.get().tz)
    return local.date().isoformat() if local.hour >= 3 else None


async def housekeeping(_payload: dict[str, Any]) -> None:
    removed = await service.prune(now=clock.now())
    log.info("housekeeping removed %s", ", ".join(f"{n} {t} rows" for t, n in removed.items()))


register("platform.housekeeping", housekeeping, max_attempts=3)
register_schedule("platform.housekeeping", kind="platform.housekeeping", slot=nightly_slot)
