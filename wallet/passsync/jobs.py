"""What the worker runs for passes: rebuild on change, push to Apple, sync with Google."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wallet import clock
from wallet.passsync import google, push, refresh
from wallet.passsync.outbox import (
    APNS_PUSH,
    GOOGLE_MESSAGE,
    GOOGLE_SYNC,
    REFRESH_PASSES,
    queue_push,
)
from wallet.platform.worker import GiveUp, RetryLater, register

log = logging.getLogger("wallet.passsync")

# A sweep sends for at most this long, then queues the next (the outbox lease is 60 s).
SWEEP_SECONDS = 20.0


class _Sweeper:
    """One APNs sweep at a time per process, run by a task of its own."""

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future[None]] = []
        self.task: asyncio.Task[None] | None = None


_sweeper = _Sweeper()


async def sweep_soon() -> None:
    """Wait for a sweep of every due device that starts after this call; raise what it
    raised (``RetryLater``, ``GiveUp``).

    A sweep started before a caller's change committed may miss it, so a caller waits for
    one that starts after it asked. One task sweeps: while it runs, everyone who asks joins
    the next sweep, so a campaign's stream of push jobs and a round of pass updates cost a
    sweep after another, not many sweeps at once over one HTTP/2 connection (each claiming
    its own devices, all of them slower, until their leases ran out). A sweep that stops at
    ``SWEEP_SECONDS`` with devices left queues an ``APNS_PUSH`` job before releasing its
    waiters: a crash never leaves due devices without a job.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    task = _sweeper.task
    if task is None or task.done() or task.get_loop() is not loop:
        # Nobody of another event loop (a test's, since closed) is waiting any more.
        _sweeper.waiting = [f for f in _sweeper.waiting if f.get_loop() is loop]
        _sweeper.task = loop.create_task(_sweep_while_asked(), name="apns-sweeper")
    _sweeper.waiting.append(future)
    await asyncio.shield(future)


async def _sweep_while_asked() -> None:
    while _sweeper.waiting:
        waiting, _sweeper.waiting = _sweeper.waiting, []
        error: BaseException | None = None
        try:
            totals = await push.push_due(seconds=SWEEP_SECONDS)
            if totals["more"]:
                await queue_push()
        except Exception as exc:
            error = exc
        except asyncio.CancelledError:
            for future in waiting + _sweeper.waiting:
                if not future.done():
                    future.set_exception(RetryLater("the push sweep was interrupted"))
            raise
        for future in waiting:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
                # Retrieved by the waiter, or by no one if it was cancelled meanwhile.
                future.add_done_callback(lambda f: f.exception())


async def push_soon() -> None:
    """``sweep_soon`` for the pass updates that just changed passes: failures are only
    logged, the push job queued with each change stays the guarantee."""
    try:
        await sweep_soon()
    except (RetryLater, GiveUp) as exc:
        log.info("push right after a pass change: %s; the push job retries", exc)
    except Exception:
        log.exception("push right after a pass change failed; the push job retries")


# Pass updates waiting to be refreshed together, and whether a group is being refreshed.
_waiting: list[tuple[int, asyncio.Future[int]]] = []
_refreshing = False
REFRESH_GROUP = 64


async def _refresh_group(group: list[tuple[int, asyncio.Future[int]]]) -> None:
    ids = sorted({account_id for account_id, _f in group})
    try:
        changed = await refresh.refresh_accounts(ids, now=clock.now())
    except Exception:
        # One account's failure must not fail the others' jobs: each on its own.
        for account_id, future in group:
            try:
                found = await refresh.refresh_account(account_id, now=clock.now())
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(found)
        return
    for account_id, future in group:
        future.set_result(changed[account_id])


async def refresh_soon(account_id: int) -> int:
    """Refresh the account's passes together with the pass updates running at the same time.

    The worker runs a round's jobs at once: the first pass update to arrive lets the others
    of the round join (one event-loop turn), then refreshes them in one transaction
    (``refresh_accounts``) while later ones gather for the next group. Each job still gets
    its own outcome: the job fails only if its own account fails.

    Returns the passes changed for this account. The caller that refreshed the groups
    pushes once after them, if any pass changed; the others' jobs finish at once, so the
    next groups refresh while it pushes.
    """
    global _refreshing
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    _waiting.append((account_id, future))
    if _refreshing:
        return await asyncio.shield(future)
    _refreshing = True
    group: list[tuple[int, asyncio.Future[int]]] = []
    any_changed = False
    try:
        await asyncio.sleep(0)
        while _waiting:
            group = _waiting[:REFRESH_GROUP]
            del _waiting[:REFRESH_GROUP]
            await _refresh_group(group)
            any_changed = any_changed or any(not f.exception() and f.result() for _a, f in group)
    finally:
        _refreshing = False
        # Cancelled mid-group: whoever still waits retries its job later.
        for _id, waiting in group + _waiting:
            if not waiting.done():
                waiting.set_exception(RetryLater("pass refresh interrupted"))
        _waiting.clear()
    if any_changed:
        # Push at once rather than a worker round later (even if this caller's own account
        # failed). The push job queued with each change stays the guarantee: it finds these
        # devices already told, or retries.
        await push_soon()
    return future.result()


async def refresh_passes(payload: dict[str, Any]) -> None:
    await refresh_soon(int(payload["account_id"]))


async def push_to_devices(_payload: dict[str, Any]) -> None:
    await sweep_soon()


async def sync_google_object(payload: dict[str, Any]) -> None:
    await google.sync_google(int(payload["card_id"]), now=clock.now())


async def add_google_message(payload: dict[str, Any]) -> None:
    await google.send_google_message(payload, now=clock.now())


register(REFRESH_PASSES, refresh_passes)
register(APNS_PUSH, push_to_devices, max_attempts=10, at_once=1)
register(GOOGLE_SYNC, sync_google_object, max_attempts=10)
register(GOOGLE_MESSAGE, add_google_message, max_attempts=10)
