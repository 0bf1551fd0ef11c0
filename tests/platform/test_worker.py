"""The outbox worker: jobs run once, failures retry with backoff, the hopeless are kept."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from wallet import clock, db
from wallet.mail import service as mail
from wallet.platform import service as platform
from wallet.platform import worker
from wallet.platform.tables import OutboxJob

calls: list[dict[str, Any]] = []


async def _flaky(payload: dict[str, Any]) -> None:
    calls.append(payload)
    if payload.get("fail_times", 0) >= len([c for c in calls if c["n"] == payload["n"]]):
        raise worker.RetryLater("receiver busy", seconds=30)


worker.register("test.flaky", _flaky, max_attempts=3)


async def _status(n: int) -> dict[str, Any]:
    import json

    rows = await OutboxJob.select(OutboxJob.status, OutboxJob.attempts, OutboxJob.payload).where(
        OutboxJob.kind == "test.flaky"
    )
    [row] = [r for r in rows if json.loads(r["payload"])["n"] == n]
    return {"status": row["status"], "attempts": row["attempts"]}


async def test_a_job_written_with_a_rolled_back_change_never_runs(database):
    calls.clear()
    try:
        async with db.write_transaction():
            await platform.enqueue(kind="test.flaky", payload={"n": 1})
            raise RuntimeError("the business write failed")
    except RuntimeError:
        pass
    await worker.run_until_idle()
    assert calls == []
    assert await OutboxJob.count().where(OutboxJob.kind == "test.flaky") == 0


async def test_waiting_jobs_with_one_key_coalesce_into_one_run(database):
    calls.clear()
    async with db.write_transaction():
        for _ in range(10):
            await platform.enqueue(kind="test.flaky", payload={"n": 2}, dedupe_key="k:2")
    await worker.run_until_idle()
    assert len(calls) == 1
    assert await OutboxJob.count().where(OutboxJob.kind == "test.flaky") == 1


async def test_a_failing_job_retries_with_backoff_then_is_kept_dead(database):
    calls.clear()
    async with db.write_transaction():
        await platform.enqueue(kind="test.flaky", payload={"n": 3, "fail_times": 5})
    now = clock.now()
    await worker.run_until_idle(now=now)
    assert (await _status(3)) == {"status": "pending", "attempts": 1}
    # Not due again until the receiver's 30 seconds have passed.
    await worker.run_until_idle(now=now + timedelta(seconds=10))
    assert len(calls) == 1
    await worker.run_until_idle(now=now + timedelta(seconds=31))
    await worker.run_until_idle(now=now + timedelta(seconds=62))
    assert (await _status(3)) == {"status": "dead", "attempts": 3}
    assert len(calls) == 3


async def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(database):
    calls.clear()
    async with db.write_transaction():
        await platform.enqueue(kind="test.flaky", payload={"n": 4})
    now = clock.now()
    claimed = await worker._claim(now, 10)  # a worker claims, then dies before running it
    assert [job["kind"] for job in claimed] == ["test.flaky"]
    await worker.run_until_idle(now=now + timedelta(seconds=5))
    assert calls == []
    await worker.run_until_idle(now=now + worker.LEASE + timedelta(seconds=1))
    assert len(calls) == 1 and (await _status(4))["status"] == "done"


async def test_queued_email_is_sent_after_commit_with_both_parts(smtp_sink):
    async with db.write_transaction():
        await mail.queue_email(
            to="anna@example.ru",
            template="test_message",
            lang="en",
            context={"name": "Анна", "balance": 120},
        )
    assert smtp_sink.messages == []
    await worker.run_until_idle()
    [message] = smtp_sink.to("anna@example.ru")
    assert message["Subject"] == "Checking in, Анна"
    assert "120" in message.get_body(("plain",)).get_content()
    assert "<b>120\u00a0points</b>" in message.get_body(("html",)).get_content()


async def test_a_schedule_runs_once_per_slot(database):
    calls.clear()
    worker.register_schedule(
        "test.daily", kind="test.flaky", slot=lambda now: now.date().isoformat(), payload={"n": 6}
    )
    try:
        now = clock.now()
        await worker.run_until_idle(now=now)
        await worker.run_until_idle(now=now + timedelta(minutes=5))
        assert len(calls) == 1
        await worker.run_until_idle(now=now + timedelta(days=1))
        assert len(calls) == 2
    finally:
        worker._schedules.pop("test.daily")


_alone_now = 0
_alone_most = 0


async def _alone(_payload: dict[str, Any]) -> None:
    global _alone_now, _alone_most
    _alone_now += 1
    _alone_most = max(_alone_most, _alone_now)
    await asyncio.sleep(0.05)
    _alone_now -= 1


worker.register("test.alone", _alone, at_once=1)


async def test_a_kind_limited_to_one_at_a_time_runs_its_jobs_one_after_another(database):
    """The APNs sweep is such a kind: five waiting jobs take one worker slot, not five."""
    global _alone_most
    _alone_most = 0
    async with db.write_transaction():
        for n in range(5):
            await platform.enqueue(kind="test.alone", payload={"n": n})
            await platform.enqueue(kind="test.flaky", payload={"n": 100 + n})
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop, poll_seconds=0.02))
    try:
        for _ in range(200):
            rows = await OutboxJob.select(OutboxJob.status).where(
                OutboxJob.kind.is_in(["test.alone", "test.flaky"])
            )
            if {row["status"] for row in rows} == {"done"}:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await running
    statuses = await OutboxJob.select(OutboxJob.status, OutboxJob.attempts).where(
        OutboxJob.kind == "test.alone"
    )
    assert [(row["status"], row["attempts"]) for row in statuses] == [("done", 1)] * 5
    assert _alone_most == 1


_long_runs: list[int] = []


async def _long(payload: dict[str, Any]) -> None:
    _long_runs.append(payload["n"])
    await asyncio.sleep(payload["seconds"])


worker.register("test.long", _long)


async def test_a_job_longer_than_the_lease_stays_with_its_live_worker(database):
    """Leases are short so a dead worker's jobs come back in seconds; a live worker renews
    them, so a second worker never runs a long job again beside it."""
    import dataclasses

    from wallet import settings as settings_module

    settings_module.override(dataclasses.replace(settings_module.get(), worker_lease_seconds=3))
    _long_runs.clear()
    async with db.write_transaction():
        await platform.enqueue(kind="test.long", payload={"n": 1, "seconds": 6.5})
    stop = asyncio.Event()
    first = asyncio.create_task(worker.run_forever(stop, poll_seconds=0.05))
    while not _long_runs:  # noqa: ASYNC110 - the first worker has it
        await asyncio.sleep(0.02)
    second = asyncio.create_task(worker.run_forever(stop, poll_seconds=0.05))
    try:
        await asyncio.sleep(7)  # more than two leases
    finally:
        stop.set()
        await asyncio.gather(first, second)
    assert _long_runs == [1]
    [job] = await OutboxJob.select(OutboxJob.status, OutboxJob.attempts).where(
        OutboxJob.kind == "test.long"
    )
    assert (job["status"], job["attempts"]) == ("done", 1)


_woken: list[float] = []


async def _note_time(_payload: dict[str, Any]) -> None:
    _woken.append(asyncio.get_running_loop().time())


worker.register("test.woken", _note_time)


async def test_a_job_queued_now_runs_at_once_on_a_running_worker_not_at_its_next_poll(database):
    """A campaign sent from the console (or a sign-in code) starts within a moment: the
    commit that queued it wakes the worker of this process, which otherwise looks every
    ``poll_seconds``. A job of a transaction that rolled back wakes nobody and never runs."""
    _woken.clear()
    await worker.run_until_idle()  # the day's scheduled jobs: done before the worker waits
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop, poll_seconds=30))
    try:
        await asyncio.sleep(0.3)  # the worker's first look found nothing: it waits 30 s
        with contextlib.suppress(RuntimeError):
            async with db.write_transaction():
                await platform.enqueue(kind="test.woken", payload={"n": 0})
                raise RuntimeError("rolled back")
        queued = asyncio.get_running_loop().time()
        async with db.write_transaction():
            await platform.enqueue(kind="test.woken", payload={"n": 1})
        for _ in range(100):
            if _woken:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await running
    assert len(_woken) == 1
    assert _woken[0] - queued < 1.5
