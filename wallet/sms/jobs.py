"""What the worker runs for SMS: sending one message over SMPP."""

from __future__ import annotations

from typing import Any

from wallet import clock
from wallet.platform import worker
from wallet.platform.jobs import nightly_slot
from wallet.platform.worker import register, register_schedule
from wallet.sms import service

# A throttling or absent SMSC is retried with backoff for about a day before the message
# is dead (a sign-in code is useless by then anyway).
register(service.SEND, service.send, max_attempts=20)
# The worker binds to the SMSC as it starts (when one is configured): the operator's
# delivery receipts of messages sent before a restart arrive only on a bound session, and
# the first message (a campaign's first chunk, a sign-in code) does not wait for the bind.
worker.register_start("sms.bind", service.warm_up)


async def prune(_payload: dict[str, Any]) -> None:
    await service.prune(now=clock.now())


register("sms.prune", prune, max_attempts=3)
register_schedule("sms.prune", kind="sms.prune", slot=nightly_slot)
