"""What the worker runs for passes: rebuild on change, push to Apple, sync with Google."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wallet import clock
from wallet.passsync import service
from wallet.platform.worker import GiveUp, RetryLater, register

log = logging.getLogger("wallet.passsync")

# The sweep the callers below wait for, not yet started; and whether one is running.
_next_sweep: asyncio.Future[None] | None = None
_sweeping = False


async def push_soon() -> None:
    """Push every due device, sharing one sweep among the pass updates that ask at once.

    A sweep started before a caller's change committed may miss it, so a caller waits for
    a sweep that starts after it asked: while one runs, everyone who asks joins the next,
    and the caller that started the first keeps sweeping until nobody is waiting. 32 pass
    updates in a worker round cost two sweeps (two lease claims, two marks) instead of 32.
    Failures are only logged: the push job queued with each change stays the guarantee.
    """
    global _next_sweep, _sweeping
    if _next_sweep is None or _next_sweep.done():
        _next_sweep = asyncio.get_running_loop().create_future()
    mine = _next_sweep
    if _sweeping:
        await asyncio.shield(mine)
        return
    _sweeping = True
    current: asyncio.Future[None] | None = None
    try:
        while _next_sweep is not None and not _next_sweep.done():
            current, _next_sweep = _next_sweep, None
            try:
                await service.push_due()
            except (RetryLater, GiveUp) as exc:
                log.info("push right after a pass change: %s; the push job retries", exc)
            except Exception:
                log.exception("push right after a pass change failed; the push job retries")
            current.set_result(None)
    finally:
        _sweeping = False
        # Cancelled mid-sweep: release whoever waits (their push jobs are still queued).
        for waiting in (current, _next_sweep):
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
        _next_sweep = None


# Pass updates waiting to be refreshed together, and whether a group is being refreshed.
_waiting: list[tuple[int, asyncio.Future[int]]] = []
_refreshing = False
REFRESH_GROUP = 64


async def _refresh_group(group: list[tuple[int, asyncio.Future[int]]]) -> None:
    ids = sorted({account_id for account_id, _f in group})
    try:
        changed = await service.refresh_accounts(ids, now=clock.now())
    except Exception:
        # One account's failure must not fail the others' jobs: each on its own.
        for account_id, future in group:
            try:
                found = await service.refresh_account(account_id, now=clock.now())
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


async def pass_update(payload: dict[str, Any]) -> None:
    await refresh_soon(int(payload["account_id"]))


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
