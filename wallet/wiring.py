"""Who listens to whom: the one place where domains are connected upward.

Lower domains publish events (``wallet.platform.events``) or take readers instead of
importing the domains above them; this module, above every domain, connects them as it
builds the app runtime (``wallet.runtime``). The app's lifespan, the command line, the
outbox worker and the tests all start one the same way: ``async with running(settings)``.

- the till's receipts and returns move cashback progress (offers), in their transaction;
- deleting a segment asks offers whether an active offer still names it;
- new members, their profile and consents, their receipts and returns pay event bonuses
  (welcome, birthday, referral, profile, marketing consent), in the same transaction;
- passes show the offers' goal of the month and the next reminded burn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from piccolo.engine.base import Engine

from wallet import db
from wallet import runtime as runtime_module
from wallet import settings as settings_module
from wallet.bonuses import service as bonuses
from wallet.members.events import MemberChanged, MemberJoined
from wallet.offers import service as offers
from wallet.receipts.events import ReceiptPosted, ReturnPosted
from wallet.segments.events import SegmentDeleting


def connect(runtime: runtime_module.Runtime) -> None:
    """Subscribe the domains above to the events of the ones below, in ``runtime``."""
    subscriptions: list[tuple[type, runtime_module.Handler]] = [
        (ReceiptPosted, offers.on_receipt),
        (ReturnPosted, offers.on_return),
        (ReceiptPosted, bonuses.on_receipt),
        (ReturnPosted, bonuses.on_return),
        (MemberJoined, bonuses.on_joined),
        (MemberChanged, bonuses.on_changed),
        (SegmentDeleting, offers.refuse_if_segment_used),
    ]
    for event_type, handler in subscriptions:
        runtime.subscribers.setdefault(event_type, []).append(handler)
    runtime.goals_reader = offers.goal_progress_for_passes
    runtime.burns_reader = offers.burn_notices_for_passes


def build_runtime(
    settings: settings_module.Settings | None = None,
    *,
    engine: Engine | None = None,
) -> runtime_module.Runtime:
    """A runtime with its events connected; nothing is opened until it starts.
    ``engine``: one the caller made and keeps (the tests' session-wide pool)."""
    cfg = settings or settings_module.load()
    built = runtime_module.Runtime(
        settings=cfg,
        engine=engine or db.make_engine(cfg.database_url, pool_size=cfg.db_pool_size),
        owns_engine=engine is None,
    )
    connect(built)
    return built


@asynccontextmanager
async def running(
    settings: settings_module.Settings | None = None,
    *,
    engine: Engine | None = None,
    pool: bool = True,
) -> AsyncIterator[runtime_module.Runtime]:
    """Build a runtime, make it current, bind the tables to its engine and start the pool;
    on exit close it and give the one before back its place (a test's app inside a test).
    ``pool=False``: no PostgreSQL pool (a command of a few queries)."""
    built = build_runtime(settings, engine=engine)
    before = runtime_module.activate(built)
    db.bind(built.engine)
    try:
        await built.start(pool=pool)
        yield built
    finally:
        try:
            await built.close()
        finally:
            runtime_module.activate(before)
            if before is not None:
                db.bind(before.engine)
