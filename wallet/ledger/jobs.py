"""The ledger's clock: lots mature and expire with time, not only when a till writes.

Every five minutes the worker settles the accounts whose earliest lot event (maturity or
expiry) has passed, so pending points become spendable and burnt points disappear from
the passes on their own, without waiting for the next receipt or the daily sweep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import clock
from wallet.ledger import service
from wallet.platform.worker import register, register_schedule


def every_five_minutes(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:") + f"{now.minute // 5 * 5:02d}"


async def settle_due(payload: dict[str, Any]) -> None:
    await service.expire_due(now=clock.now())


register("ledger.clock", settle_due, max_attempts=3)
register_schedule("ledger.clock", kind="ledger.clock", slot=every_five_minutes)
