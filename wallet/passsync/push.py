"""APNs pushes: tell every device whose pass changed since it was last told, a leased
batch at a time over the one HTTP/2 connection, recording each success.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wallet import clock, db
from wallet.passsync import apns, queries
from wallet.passsync.tables import PassCard, PassRegistration
from wallet.platform.worker import GiveUp, RetryLater

log = logging.getLogger("wallet.passsync")

# Streams kept in flight on the one APNs connection.
PUSH_CONCURRENCY = 100
PUSH_BATCH = 500
# How long a worker holds the devices it is pushing to; shorter than the outbox lease, so
# a job taken over after a crash finds them free again.
PUSH_LEASE = timedelta(seconds=30)


async def claim_devices(now: datetime) -> list[dict[str, Any]]:
    """Lease a batch of the devices flagged ``push_due`` (a partial index holds just them)."""
    async with db.write_transaction():
        return await db.fetch(queries.CLAIM_DEVICES, now + PUSH_LEASE, now, PUSH_BATCH)


async def push_due(*, now: datetime | None = None, seconds: float | None = None) -> dict[str, int]:
    """Push every device whose pass changed since it was last told, a batch at a time over
    the one HTTP/2 connection. Each batch is leased (``pushing_until``, SKIP LOCKED on
    PostgreSQL), so workers on several machines share devices without pushing one twice,
    and successes are recorded, so a retry only reaches the devices not yet told.

    With ``seconds``, no batch is started after that long (a campaign leaves 100,000
    devices due; a job must end within its outbox lease): ``more`` is 1 then, and the
    caller queues the next sweep."""
    totals = {"sent": 0, "gone": 0, "more": 0}
    retry: list[apns.Result] = []
    failed: list[apns.Result] = []
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        if deadline is not None and time.monotonic() > deadline:
            totals["more"] = 1
            break
        devices = await claim_devices(now or clock.now())
        if not devices:
            break
        serials = sorted({d["serial"] for d in devices})
        tags = {
            row["serial"]: row["tag"]
            for row in await PassCard.select(PassCard.serial, PassCard.tag).where(
                PassCard.serial.is_in(serials)
            )
        }
        batch = await push_batch(devices, tags)
        totals["sent"] += batch.sent
        totals["gone"] += batch.gone
        retry += batch.retry
        failed += batch.failed
        if len(devices) < PUSH_BATCH or batch.retry:
            break
    if totals["gone"]:
        log.info("APNs: removed %s registrations the devices no longer hold", totals["gone"])
    if retry:
        # The longest wait APNs asked for, if it said (429/503 with Retry-After); the
        # worker's backoff otherwise.
        waits = [r.retry_after for r in retry if r.retry_after is not None]
        raise RetryLater(
            f"APNs asked to retry {len(retry)} pushes: {retry[0].status} {retry[0].reason}",
            seconds=max(waits) if waits else None,
        )
    if failed:
        raise GiveUp(
            f"APNs refused {len(failed)} pushes: {failed[0].status} {failed[0].reason}; "
            "check the Pass Type ID certificate and WALLET_PASS_TYPE_ID"
        )
    return totals


class Batch(msgspec.Struct):
    sent: int
    gone: int
    retry: list[apns.Result]
    failed: list[apns.Result]


async def push_batch(devices: list[dict[str, Any]], tags: dict[str, int]) -> Batch:
    client = apns.client()
    gate = asyncio.Semaphore(PUSH_CONCURRENCY)

    async def one(device: dict[str, Any]) -> tuple[dict[str, Any], apns.Result]:
        async with gate:
            return device, await client.push(device["push_token"])

    # Flagged but already told of the newest tag (a push raced the flag): nothing to send.
    told = [d["id"] for d in devices if d["pushed_tag"] >= tags.get(d["serial"], 0)]
    devices = [d for d in devices if d["pushed_tag"] < tags.get(d["serial"], 0)]
    results = await asyncio.gather(*(one(d) for d in devices))
    sent: dict[int, list[int]] = {}
    for device, result in results:
        if result.outcome is apns.Outcome.SENT:
            sent.setdefault(tags.get(device["serial"], 0), []).append(device["id"])
    gone = [d["id"] for d, r in results if r.outcome is apns.Outcome.GONE]
    others = [d["id"] for d, r in results if r.outcome in (apns.Outcome.RETRY, apns.Outcome.FAILED)]
    async with db.write_transaction():
        for tag, ids in sent.items():
            for chunk in db.chunks(ids):
                # Still due if the pass changed again while the push was on its way.
                await db.fetch(queries.pushed(len(chunk)), tag, *chunk)
        for chunk in db.chunks(told):
            await db.fetch(queries.already_told(len(chunk)), *chunk)
        for chunk in db.chunks(gone):
            await PassRegistration.delete().where(PassRegistration.id.is_in(chunk))
        for chunk in db.chunks(others):
            await PassRegistration.update({PassRegistration.pushing_until: None}).where(
                PassRegistration.id.is_in(chunk)
            )
    return Batch(
        sent=sum(len(ids) for ids in sent.values()),
        gone=len(gone),
        retry=[r for _d, r in results if r.outcome is apns.Outcome.RETRY],
        failed=[r for _d, r in results if r.outcome is apns.Outcome.FAILED],
    )
