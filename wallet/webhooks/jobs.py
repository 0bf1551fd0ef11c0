"""What the worker runs for webhooks: one account's stream to one endpoint, in order."""

from __future__ import annotations

from typing import Any

from wallet.platform.worker import register
from wallet.webhooks import delivery, service


async def deliver(payload: dict[str, Any]) -> None:
    await delivery.run_stream(int(payload["endpoint_id"]), int(payload["account_id"]))


register(service.DELIVER, deliver)
