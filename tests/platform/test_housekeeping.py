"""The nightly housekeeping forgets what serves nobody and keeps what someone may need."""

from __future__ import annotations

from datetime import timedelta

from wallet import clock, db
from wallet.platform import service as platform
from wallet.platform import worker
from wallet.platform.tables import IdempotencyRecord, OutboxJob, ScheduleSlot
from wallet.signin import service as pages


async def _job(status: str, age: timedelta) -> int:
    moment = clock.now() - age
    rows = await OutboxJob.insert(
        OutboxJob(
            kind="test.old",
            payload="{}",
            status=status,
            attempts=1,
            due_at=moment,
            last_error="boom" if status == "dead" else "",
            created_at=moment,
            updated_at=moment,
        )
    ).returning(OutboxJob.id)
    return int(rows[0]["id"])


async def test_old_finished_jobs_go_and_failed_ones_stay_for_the_operator(database):
    old_done = await _job("done", timedelta(days=8))
    new_done = await _job("done", timedelta(days=1))
    old_dead = await _job("dead", timedelta(days=90))
    old_pending = await _job("pending", timedelta(days=30))
    now = clock.now()
    await IdempotencyRecord.insert(
        IdempotencyRecord(
            scope_key="old",
            request_hash="x",
            status_code=201,
            response="{}",
            created_at=now - timedelta(days=31),
        ),
        IdempotencyRecord(
            scope_key="new",
            request_hash="x",
            status_code=201,
            response="{}",
            created_at=now - timedelta(days=1),
        ),
    )
    await ScheduleSlot.insert(
        ScheduleSlot(key="x:2025-01-01", created_at=now - timedelta(days=401)),
        ScheduleSlot(key="x:2026-11-01", created_at=now - timedelta(days=22)),
    )

    removed = await platform.prune(now=now)

    assert removed == {"outbox_job": 1, "idempotency_record": 1, "schedule_slot": 1}
    left = {
        row["id"]
        for row in await OutboxJob.select(OutboxJob.id).where(OutboxJob.kind == "test.old")
    }
    assert left == {new_done, old_dead, old_pending} and old_done not in left
    assert [
        r["scope_key"] for r in await IdempotencyRecord.select(IdempotencyRecord.scope_key)
    ] == ["new"]
    assert [
        r["key"]
        for r in await ScheduleSlot.select(ScheduleSlot.key).where(ScheduleSlot.key.like("x:%"))
    ] == ["x:2026-11-01"]


async def test_sign_in_traces_go_a_day_after_they_stop_mattering(database):
    now = clock.now()
    await db.raw(
        "INSERT INTO signin_send_event (key, created_at) VALUES ({}, {}), ({}, {})",
        "email:old@example.ru",
        now - timedelta(days=2),
        "email:new@example.ru",
        now - timedelta(minutes=5),
    )
    removed = await pages.prune(now=now)
    assert removed["signin_send_event"] == 1
    keys = [r["key"] for r in await db.raw("SELECT key FROM signin_send_event")]
    assert keys == ["email:new@example.ru"]


async def test_the_worker_runs_the_housekeeping_once_a_night(database):
    await _job("done", timedelta(days=8))
    night = clock.now().astimezone().replace(hour=4)
    await worker.run_until_idle(now=night)
    await worker.run_until_idle(now=night + timedelta(hours=1))
    runs = await OutboxJob.select(OutboxJob.status).where(OutboxJob.kind == "platform.housekeeping")
    assert [row["status"] for row in runs] == ["done"]
    assert await OutboxJob.count().where(OutboxJob.kind == "test.old") == 0
