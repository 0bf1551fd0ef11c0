"""Sliding-window rate limits counted in ``signin_send_event``, atomic on both databases.

Counting and recording are one step under a lock on the limited key: on PostgreSQL a
transaction-scoped advisory lock per key, on SQLite the IMMEDIATE write transaction every
write already holds. Without the lock, concurrent requests on PostgreSQL all count the
same rows and all pass (30 simultaneous sign-in requests sent 13 codes with a limit of 3).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import msgspec

from wallet import db
from wallet.errors import TooManyAttempts
from wallet.signin import queries
from wallet.signin.tables import SendEvent


class Limit(msgspec.Struct, frozen=True):
    key: str
    count: int
    window: timedelta
    message: str


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


async def take(limits: list[Limit], *, now: datetime) -> None:
    """Record one event under each limit, or raise ``TooManyAttempts`` (with
    ``retry_after_seconds``) and record nothing. Runs in the caller's write transaction."""
    if db.engine().current_transaction.get() is None:
        # Outside a transaction the lock would end with the statement and count nothing.
        raise RuntimeError("limits.take must run inside db.write_transaction()")
    if not db.is_sqlite():
        # Sorted, so two requests sharing keys take their locks in the same order.
        for key in sorted({limit.key for limit in limits}):
            await db.fetch(queries.LIMIT_LOCK, _lock_id(key))
    for limit in limits:
        since = now - limit.window
        rows = (
            await SendEvent.select(SendEvent.created_at)
            .where((SendEvent.key == limit.key) & (SendEvent.created_at > since))
            .order_by(SendEvent.created_at, ascending=False)
            .limit(limit.count)
        )
        if len(rows) >= limit.count:
            # Free again when the oldest event still counted leaves the window.
            oldest = rows[-1]["created_at"]
            # A request that waited for the lock may hold a ``now`` older than the newest event,
            # so the wait is capped at the window itself.
            window = int(limit.window.total_seconds())
            wait = min(window, max(1, math.ceil((oldest + limit.window - now).total_seconds())))
            raise TooManyAttempts(limit.message, {"retry_after_seconds": wait})
    await SendEvent.insert(*(SendEvent(key=limit.key, created_at=now) for limit in limits))
