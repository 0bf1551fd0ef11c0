"""In-transaction domain events: a lower domain tells the ones above it what happened
without importing them.

The till (``receipts``) publishes "receipt posted" and "return posted" inside its own
transaction; ``offers`` subscribes and moves cashback progress in that same transaction, so
both commit or neither does. A subscriber that raises rolls the publisher's write back.
Subscriptions are made in one place, ``wallet.wiring.connect``, as the app runtime is
built (``wallet.runtime``: the app, the worker and the command line each build one); a
domain never subscribes on import, and two runtimes never share subscribers.

The event types belong to the publisher (``wallet.receipts.events``); this registry knows
nothing of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from wallet import runtime

E = TypeVar("E")
Handler = Callable[[Any], Awaitable[None]]


def subscribe(event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
    """Call ``handler`` with every ``event_type`` the running runtime publishes from now on
    (once, however often the same pair is subscribed)."""
    handlers = runtime.current().subscribers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


async def publish(event: object) -> None:
    """Run the event's subscribers one after another, in the caller's transaction."""
    for handler in runtime.current().subscribers.get(type(event), ()):
        await handler(event)


def subscribers(event_type: type) -> list[Handler]:
    """Who listens to ``event_type`` (the start-up check and the tests read it)."""
    return list(runtime.current().subscribers.get(event_type, ()))
