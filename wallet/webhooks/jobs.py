"""What the worker runs for webhooks: one account's stream to one endpoint, in order; and
nightly, forgetting delivered deliveries past the log's keep time."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from wallet import clock
from wallet.platform import service as platform
from wallet.platform.jobs import nightly_slot
from wallet.platform.worker import register, register_schedule
from wallet.webhooks import delivery, service

log = logging.getLogger("wallet.webhooks")

# The delivery log keeps delivered events (and those erased before they went out) this
# long (failed and waiting ones stay until replayed or delivered): long enough to answer
# "did you send it?" for a month's close.
KEEP_DELIVERED = timedelta(days=35)


async def deliver(payload: dict[str, Any]) -> None:
    await delivery.run_stream(int(payload["endpoint_id"]), int(payload["account_id"]))


async def prune(_payload: dict[str, Any]) -> None:
    removed = await platform.delete_in_batches(
        "webhook_delivery",
        "(status = 'delivered' AND delivered_at < $1) OR (status = 'erased' AND created_at < $1)",
        clock.now() - KEEP_DELIVERED,
    )
    log.info("webhooks housekeeping removed %s delivered or erased deliveries", removed)


register(service.DELIVER, deliver)
register("webhooks.prune", prune, max_attempts=3)
register_schedule("webhooks.prune", kind="webhooks.prune", slot=nightly_slot)
