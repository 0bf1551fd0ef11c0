"""What the worker runs for passes: rebuild on change, push to Apple, sync with Google."""

from __future__ import annotations

from typing import Any

from wallet import clock
from wallet.passsync import service
from wallet.platform.worker import GiveUp, RetryLater, register


async def pass_update(payload: dict[str, Any]) -> None:
    changed = await service.refresh_account(int(payload["account_id"]), now=clock.now())
    if changed:
        # Push at once rather than a worker round later. The push job queued with the
        # change stays the guarantee: it finds these devices already told, or retries.
        try:
            await service.push_due()
        except (RetryLater, GiveUp):
            pass


async def apns_push(_payload: dict[str, Any]) -> None:
    await service.push_due()


async def google_sync(payload: dict[str, Any]) -> None:
    await service.sync_google(int(payload["card_id"]), now=clock.now())


async def google_message(payload: dict[str, Any]) -> None:
    await service.send_google_message(payload, now=clock.now())


register("pass_update", pass_update)
register("apns_push", apns_push, max_attempts=10)
register("google_sync", google_sync, max_attempts=10)
register("google_message", google_message, max_attempts=10)
