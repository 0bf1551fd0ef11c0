"""What the worker runs for accruals: a run, at its time. A run that dies mid-way is
retried by the outbox and goes on where its committed chunks stopped."""

from __future__ import annotations

from typing import Any

from wallet import clock
from wallet.accruals import service
from wallet.platform.worker import register


async def run(payload: dict[str, Any]) -> None:
    await service.run(int(payload["accrual_id"]), int(payload["run"]), now=clock.now())


register(service.RUN, run)
