"""The outbox worker: claims due jobs, runs their handlers, retries with backoff.

How a job is claimed, so that several workers on several machines share the load and a
crash loses nothing:
- one UPDATE marks up to N due jobs ``running`` with a lease (``due_at`` = now + lease),
  clears their ``dedupe_key`` (a change made while a job runs queues a fresh job instead of
  being folded into one whose state was already read), and returns them. On PostgreSQL the
  inner SELECT takes ``FOR UPDATE SKIP LOCKED``, so two workers never claim the same job;
  SQLite has one writer at a time, so the same statement is a single claimer there;
- a running worker renews the leases of the jobs it runs every third of a lease
  (``WALLET_WORKER_LEASE_SECONDS``, 15 s), so a job whose worker died (SIGKILL, a lost
  machine) keeps ``running`` past its lease and is claimed again within seconds, while a
  long job of a live worker (a campaign's 20 s sending slice) is never taken from it;
- success marks it ``done``; ``RetryLater`` or any error puts it back ``pending`` with
  exponential backoff; after ``max_attempts`` it is ``dead`` with the last error, for an
  operator to see (``wallet outbox``) and requeue.

Domains add handlers in their ``jobs.py`` with ``register`` and periodic work with
``register_schedule``; the module names are listed in ``JOB_MODULES``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wallet import clock, db, observe, runtime
from wallet import settings as settings_module
from wallet.platform import queries
from wallet.platform.tables import OutboxJob, ScheduleSlot

log = logging.getLogger("wallet.worker")

# Modules whose import registers job handlers and schedules.
JOB_MODULES: list[str] = [
    "wallet.mail.jobs",
    "wallet.sms.jobs",
    "wallet.ledger.jobs",
    "wallet.offers.jobs",
    "wallet.passsync.jobs",
    "wallet.segments.jobs",
    "wallet.campaigns.jobs",
    "wallet.koshelek.jobs",
    "wallet.platform.jobs",
    "wallet.signin.jobs",
    "wallet.privacy.jobs",
    "wallet.promotions.jobs",
    "wallet.accruals.jobs",
    "wallet.webhooks.jobs",
]

Handler = Callable[[dict[str, Any]], Awaitable[None]]
# The lease of the default settings (tests step the clock past it); see ``lease()``.
LEASE = timedelta(seconds=settings_module.Settings.worker_lease_seconds)
BATCH = 64
CONCURRENCY = 32


class RetryLater(Exception):
    """The receiver asked us to come back later (429, 5xx, a quota)."""

    def __init__(self, reason: str, seconds: float | None = None) -> None:
        super().__init__(reason)
        self.seconds = seconds


class GiveUp(Exception):
    """Retrying cannot help (the receiver refused the content): mark the job dead."""


@dataclass(frozen=True)
class JobSpec:
    handler: Handler
    max_attempts: int
    # At most this many of the kind run at once in one process (None: no limit).
    at_once: int | None = None


@dataclass(frozen=True)
class Schedule:
    name: str
    slot: Callable[[datetime], str | None]
    kind: str
    payload: dict[str, Any]


_handlers: dict[str, JobSpec] = {}
_schedules: dict[str, Schedule] = {}
_on_start: dict[str, Callable[[], Awaitable[None]]] = {}
_loaded = False


def register(
    kind: str, handler: Handler, *, max_attempts: int = 8, at_once: int | None = None
) -> None:
    """``at_once``: how many jobs of this kind one worker process runs at the same time.
    A job kind that serves everything due when it runs (the APNs sweep) takes 1: the jobs
    queued meanwhile fold into one waiting job instead of each taking a worker slot."""
    _handlers[kind] = JobSpec(handler=handler, max_attempts=max_attempts, at_once=at_once)


def register_schedule(
    name: str,
    *,
    kind: str,
    slot: Callable[[datetime], str | None],
    payload: dict[str, Any] | None = None,
) -> None:
    """Run job ``kind`` once per slot: ``slot(now)`` names the current period (e.g. the
    local date for a daily job, "2026-01" for a monthly one) or None when it is not yet
    time. Each slot runs once across all workers (a unique row per slot)."""
    _schedules[name] = Schedule(name=name, slot=slot, kind=kind, payload=payload or {})


def register_start(name: str, start: Callable[[], Awaitable[None]]) -> None:
    """Run ``start`` beside the worker when it starts (not waited for; an error is logged):
    a connection the jobs will need, opened before the first job needs it."""
    _on_start[name] = start


async def _start(name: str, start: Callable[[], Awaitable[None]]) -> None:
    try:
        await start()
    except Exception:
        log.exception("worker start-up step %s failed; the jobs that need it will retry", name)


def forget_seen_slots() -> None:
    """Forget which schedule slots this runtime saw taken."""
    runtime.current().caches.seen_slots.clear()


def load_job_modules() -> None:
    global _loaded
    if _loaded:
        return
    for module in JOB_MODULES:
        importlib.import_module(module)
    _loaded = True


def lease() -> timedelta:
    """How long a claim holds without renewal (``WALLET_WORKER_LEASE_SECONDS``)."""
    return timedelta(seconds=settings_module.get().worker_lease_seconds)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), 3600))


async def _claim(
    now: datetime, limit: int, *, skip_kinds: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    claim, args = queries.claim_jobs(now, now + lease(), limit, sorted(skip_kinds))
    async with db.write_transaction():
        return await db.fetch(claim, *args)


async def _hand_back(jobs: list[dict[str, Any]]) -> None:
    """Jobs claimed beyond their kind's ``at_once``: waiting again, as if never claimed."""
    async with db.write_transaction():
        for job in jobs:
            await OutboxJob.update(
                {
                    OutboxJob.status: "pending",
                    OutboxJob.attempts: job["attempts"] - 1,
                    OutboxJob.due_at: clock.now(),
                }
            ).where(OutboxJob.id == job["id"])


async def _finish(job_id: int, **values: Any) -> None:
    columns = {getattr(OutboxJob, name): value for name, value in values.items()}
    columns[OutboxJob.updated_at] = clock.now()
    async with db.write_transaction():
        await OutboxJob.update(columns).where(OutboxJob.id == job_id)


async def _run(job: dict[str, Any], now: datetime) -> None:
    """Run one claimed job, logging under the request id it was queued with."""
    payload = dict(job["payload"])
    with observe.request_id(payload.pop(observe.PAYLOAD_KEY, None)):
        await _run_job(job, payload)


async def _run_job(job: dict[str, Any], payload: dict[str, Any]) -> None:
    spec = _handlers.get(job["kind"])
    if spec is None:
        await _finish(job["id"], status="dead", last_error=f"no handler for kind {job['kind']!r}")
        log.error(
            "outbox job %s: no handler for kind %r; deploy the code that handles it, then requeue",
            job["id"],
            job["kind"],
        )
        return
    try:
        await spec.handler(payload)
    except Exception as exc:
        delay = exc.seconds if isinstance(exc, RetryLater) and exc.seconds else None
        final = isinstance(exc, GiveUp) or job["attempts"] >= spec.max_attempts
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if final:
            await _finish(job["id"], status="dead", last_error=error)
            # The payload stays out of the log: it may hold an address or a name
            # (``wallet outbox`` shows it to the operator who needs it).
            log.error(
                "outbox job %s (%s) failed for good after %s attempts: %s",
                job["id"],
                job["kind"],
                job["attempts"],
                error,
            )
        else:
            wait = timedelta(seconds=delay) if delay else backoff(job["attempts"])
            await _finish(job["id"], status="pending", due_at=clock.now() + wait, last_error=error)
            log.warning(
                "outbox job %s (%s) attempt %s failed, retry in %ss: %s",
                job["id"],
                job["kind"],
                job["attempts"],
                int(wait.total_seconds()),
                error,
            )
        return
    await _finish(job["id"], status="done", last_error="")


async def claim_at_birth(*, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A job written already claimed by this process (``running``, leased as a claim is),
    in the caller's write transaction; ``start_claimed`` runs it once that committed.

    For work the writer will do at once (a campaign's SMS chunk): it does not wait for a
    worker's next poll and claim. If this process dies first, the lease runs out and any
    worker claims the job as it would a crashed one's."""
    now = clock.now()
    request_id = observe.REQUEST_ID.get()
    if request_id is not None:
        payload = {**payload, observe.PAYLOAD_KEY: request_id}
    rows = await db.fetch(queries.ENQUEUE_CLAIMED, kind, payload, now + LEASE, now)
    return {"id": rows[0]["id"], "kind": kind, "payload": payload, "attempts": 1}


def start_claimed(job: dict[str, Any]) -> asyncio.Task[None]:
    """Run a job from ``claim_at_birth`` (after its commit) as the worker runs its own;
    ``run_once`` and a stopping ``run_forever`` wait for it."""
    task = asyncio.get_running_loop().create_task(
        _run(job, clock.now()), name=f"outbox-job-{job['id']}"
    )
    _born.add(task)
    task.add_done_callback(_born.discard)
    return task


async def wait_claimed() -> None:
    """Until every job this process started with ``start_claimed`` has finished."""
    loop = asyncio.get_running_loop()
    # Tasks of a loop that ended (tests) are forgotten.
    _born.difference_update([task for task in _born if task.get_loop() is not loop])
    while _born:
        await asyncio.gather(*_born, return_exceptions=True)


# Jobs claimed at birth and running in this process.
_born: set[asyncio.Task[None]] = set()

# The wake-up of each ``run_forever`` running in this process (the embedded worker of
# ``wallet serve``, the bench's), with its event loop.
_wakers: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}


def wake() -> None:
    """A job is due now: the workers of this process claim at once instead of at their next
    poll (``platform.enqueue`` calls it once the job's transaction committed). A campaign
    sent from the console starts within a moment, not a poll later; a worker in another
    process still finds the job at its poll."""
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    for event, loop in list(_wakers.items()):
        if loop is here:
            event.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


async def enqueue_due_schedules(now: datetime) -> int:
    from wallet.platform import service as platform

    started = 0
    seen_slots = runtime.current().caches.seen_slots
    for schedule in _schedules.values():
        slot = schedule.slot(now)
        # Each process remembers the slot it last saw taken, so a poll round does no write
        # at all until a period turns over (every 0.2 s a write per schedule cost SQLite
        # a good part of the commit-to-push latency).
        if slot is None or seen_slots.get(schedule.name) == slot:
            continue
        seen_slots[schedule.name] = slot
        async with db.write_transaction():
            inserted = await (
                ScheduleSlot.insert(ScheduleSlot(key=f"{schedule.name}:{slot}", created_at=now))
                .on_conflict(target=ScheduleSlot.key, action="DO NOTHING")
                .returning(ScheduleSlot.id)
            )
            if inserted:
                await platform.enqueue(
                    kind=schedule.kind, payload={**schedule.payload, "slot": slot}, due_at=now
                )
                started += 1
    return started


async def run_once(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Claim and run one batch of due jobs; returns how many ran."""
    load_job_modules()
    moment = now or clock.now()
    await enqueue_due_schedules(moment)
    jobs = await _claim(moment, limit)
    if not jobs:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def guarded(job: dict[str, Any]) -> None:
        async with gate:
            await _run(job, moment)

    await asyncio.gather(*(guarded(job) for job in jobs))
    await wait_claimed()
    return len(jobs)


async def run_until_idle(*, now: datetime | None = None, max_rounds: int = 100) -> int:
    """Run every due job, including the ones the jobs themselves queue (tests, CLI)."""
    total = 0
    for _ in range(max_rounds):
        ran = await run_once(now=now)
        if ran == 0:
            break
        total += ran
    return total


async def run_forever(
    stop: asyncio.Event, *, poll_seconds: float = 0.2, concurrency: int = CONCURRENCY
) -> None:
    """Run jobs until ``stop`` is set, up to ``concurrency`` at a time.

    There are no rounds: whenever a slot is free the worker claims as many due jobs as
    there are free slots, and a job that finishes wakes it at once (the job may have
    queued the next one, a pass update its push). So a long job (a campaign's sending
    slice works for 20 s) holds one slot, not everyone else's: pass updates and pushes go
    on beside it. On ``stop`` no new job is claimed and the running ones finish; if the
    worker itself is cancelled, they are cancelled too (their leases bring them back).
    """
    load_job_modules()
    log.info("worker started: %s", ", ".join(sorted(_handlers)) or "no handlers")
    running: set[asyncio.Task[None]] = set()
    finished = asyncio.Event()
    kinds: dict[asyncio.Task[None], str] = {}
    held: dict[asyncio.Task[None], int] = {}

    def done(task: asyncio.Task[None]) -> None:
        running.discard(task)
        kinds.pop(task, None)
        held.pop(task, None)
        finished.set()

    def full_kinds() -> frozenset[str]:
        counts: dict[str, int] = {}
        for kind in kinds.values():
            counts[kind] = counts.get(kind, 0) + 1
        return frozenset(
            kind
            for kind, n in counts.items()
            if (spec := _handlers.get(kind)) is not None
            and spec.at_once is not None
            and n >= spec.at_once
        )

    heartbeat = asyncio.create_task(_renew_leases(held), name="outbox-leases")
    starting = [
        asyncio.create_task(_start(name, start), name=f"worker-start-{name}")
        for name, start in _on_start.items()
    ]
    # A job finishing or a job queued (``wake``) while the worker claims must not be missed:
    # the event is cleared before the claim, so either that claim sees the job or the wait
    # after it returns at once.
    _wakers[finished] = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            finished.clear()
            free = concurrency - len(running)
            claimed = 0
            if free > 0:
                now = clock.now()
                try:
                    await enqueue_due_schedules(now)
                    jobs = await _claim(now, min(free, BATCH), skip_kinds=full_kinds())
                    jobs = await _within_limits(jobs, list(kinds.values()))
                except Exception:
                    log.exception(
                        "worker could not claim jobs; retrying in 1 s (is the database reachable?)"
                    )
                    await _wait(stop, finished, 1.0)
                    continue
                for job in jobs:
                    task = asyncio.create_task(_run(job, now), name=f"outbox-job-{job['id']}")
                    running.add(task)
                    kinds[task] = job["kind"]
                    held[task] = int(job["id"])
                    task.add_done_callback(done)
                claimed = len(jobs)
            if claimed and claimed == free:
                await asyncio.sleep(0)  # there may be more due: claim again once they started
                continue
            await _wait(stop, finished, poll_seconds)
            # Let the jobs finishing in the same moment free their slots together.
            await asyncio.sleep(0)
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        await wait_claimed()
    except asyncio.CancelledError:
        loop = asyncio.get_running_loop()
        born = [task for task in _born if task.get_loop() is loop]
        for task in (*running, *born):
            task.cancel()
        await asyncio.gather(*running, *born, return_exceptions=True)
        raise
    finally:
        _wakers.pop(finished, None)
        for task in (heartbeat, *starting):
            task.cancel()
        await asyncio.gather(heartbeat, *starting, return_exceptions=True)


async def _renew_leases(held: dict[asyncio.Task[None], int]) -> None:
    """Every third of a lease, the jobs this process runs are held for another lease. A
    failed renewal (the database away for a moment) is tried again at the next beat; only
    a worker silent for a whole lease loses its jobs."""
    while True:
        every = lease() / 3
        await asyncio.sleep(every.total_seconds())
        ids = sorted(set(held.values()))
        if not ids:
            continue
        try:
            now = clock.now()
            text, args = queries.renew_leases(ids, now + lease(), now)
            async with db.write_transaction():
                await db.fetch(text, *args)
        except Exception:
            log.warning("worker could not renew its job leases; trying again", exc_info=True)


async def _within_limits(jobs: list[dict[str, Any]], running: list[str]) -> list[dict[str, Any]]:
    """The claimed jobs this process may start now; the rest are handed back."""
    counts: dict[str, int] = {}
    for kind in running:
        counts[kind] = counts.get(kind, 0) + 1
    keep, extra = [], []
    for job in jobs:
        spec = _handlers.get(job["kind"])
        counts[job["kind"]] = counts.get(job["kind"], 0) + 1
        if spec is not None and spec.at_once is not None and counts[job["kind"]] > spec.at_once:
            extra.append(job)
        else:
            keep.append(job)
    if extra:
        await _hand_back(extra)
    return keep


async def _wait(stop: asyncio.Event, finished: asyncio.Event, seconds: float) -> None:
    """Until a job finishes, ``stop`` is set, or ``seconds`` pass."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(finished.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
