"""What the worker runs for sign-in: forgetting spent sign-in traces (codes, sends, sessions)."""

from __future__ import annotations

from typing import Any

from wallet import clock
from wallet.platform.jobs import nightly_slot
from wallet.platform.worker import register, register_schedule
from wallet.signin import service


async def prune(_payload: dict[str, Any]) -> None:
    await service.prune(now=clock.now())


register("pages.prune", prune, max_attempts=3)
register_schedule("pages.prune", kind="pages.prune", slot=nightly_slot)
