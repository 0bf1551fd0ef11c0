"""What the worker runs for campaigns: the start at the scheduled time, the send slices,
and the automatic messages."""

from __future__ import annotations

from datetime import date
from typing import Any

from wallet import clock, db
from wallet.campaigns import automatic, queries, sending, service
from wallet.platform import worker
from wallet.platform.worker import register, register_schedule
from wallet.sms import quiet


async def start(payload: dict[str, Any]) -> None:
    await service.start(int(payload["campaign_id"]), payload["at"], now=clock.now())


async def send(payload: dict[str, Any]) -> None:
    campaign_id, channel = int(payload["campaign_id"]), payload["channel"]
    if channel == "sms" and (morning := quiet.quiet_until(clock.now())):
        # No marketing SMS at night: the deliveries wait, pending, for the morning.
        await service.queue_send(campaign_id, channel, due_at=morning)
        return
    result = await sending.send_slice(campaign_id, channel)
    if result == "more":
        await service.queue_send(campaign_id, channel)
    elif result == "waiting":
        # Rows held by another worker: if it died, its claims lapse within a lease.
        await service.queue_send(campaign_id, channel, due_at=clock.now() + worker.lease() / 3)
    elif result == "cancelled":
        async with db.write_transaction():
            await db.fetch(queries.CANCEL_PENDING, campaign_id)


register("campaign_start", start, max_attempts=20)
register("campaign_send", send, max_attempts=50)


async def welcome(_: dict[str, Any]) -> None:
    await automatic.welcome(now=clock.now())


async def birthday(payload: dict[str, Any]) -> None:
    await automatic.birthday(date.fromisoformat(payload["slot"]), now=clock.now())


register("campaign_welcome", welcome, max_attempts=3)
register("campaign_birthday", birthday, max_attempts=5)
register_schedule("campaign_welcome", kind="campaign_welcome", slot=automatic.minute_slot)
register_schedule("campaign_birthday", kind="campaign_birthday", slot=automatic.birthday_slot)
