"""Who listens to whom: the one place where domains are connected upward.

Lower domains publish events (``wallet.platform.events``) or take readers instead of
importing the domains above them; this module, above every domain, connects them as it
builds the app runtime (``wallet.runtime``). The app's lifespan, the command line, the
outbox worker and the tests all start one the same way: ``async with running(settings)``.

- the till's receipts and returns move cashback progress (offers), in their transaction;
- deleting a segment asks offers and promotions whether an active one still names it;
- new members, their profile and consents, their receipts and returns pay event bonuses
  (welcome, birthday, referral, profile, marketing consent), in the same transaction;
- a receipt queues the balance push to a card issued in «Кошелёк» (rate limited);
- passes show the offers' goal of the month and the next reminded burn;
- promotions for saved segments ask segments whom they hold (resolved before pricing);
- receipts and returns are counted for the metrics (``wallet.observe``);
- members joining, changing (profile, consents) and erased, cards, points, tiers, coupons,
  cashback, receipts and returns become webhook deliveries for the endpoints that asked
  for them, in the same transaction (``WEBHOOKS``: each event's type and ``data``; the
  ledger's set-based credit too: ``points.changed`` for each account, in one statement).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import msgspec
from piccolo.engine.base import Engine

from wallet import db, observe
from wallet import runtime as runtime_module
from wallet import settings as settings_module
from wallet.bonuses import service as bonuses
from wallet.campaigns import service as campaigns
from wallet.koshelek import push as koshelek_push
from wallet.ledger.events import (
    POINTS_CHANGED_COLUMNS,
    PointsChanged,
    PointsCreditedInBulk,
    TierChanged,
)
from wallet.members.events import (
    CardBlocked,
    CardIssued,
    ConsentChanged,
    MemberChanged,
    MemberJoined,
)
from wallet.offers import progress as offers_progress
from wallet.offers import service as offers
from wallet.offers.events import CashbackSettled
from wallet.privacy.events import MemberErased
from wallet.promotions import service as promotions
from wallet.promotions.events import CouponIssued, CouponUsed
from wallet.receipts.events import ReceiptPosted, ReturnPosted
from wallet.segments import service as segments
from wallet.segments.events import SegmentDeleting
from wallet.webhooks import service as webhooks


def connect(runtime: runtime_module.Runtime) -> None:
    """Subscribe the domains above to the events of the ones below, in ``runtime``."""
    subscriptions: list[tuple[type, runtime_module.Handler]] = [
        (ReceiptPosted, offers_progress.on_receipt),
        (ReturnPosted, offers_progress.on_return),
        (ReceiptPosted, bonuses.on_receipt),
        (ReturnPosted, bonuses.on_return),
        (MemberJoined, bonuses.on_joined),
        (MemberChanged, bonuses.on_changed),
        (ReceiptPosted, koshelek_push.on_receipt),
        (SegmentDeleting, offers.refuse_if_segment_used),
        (SegmentDeleting, _refuse_if_promotion_uses),
        (SegmentDeleting, campaigns.refuse_if_segment_used),
        # Counted last, after every subscriber that could still refuse the receipt.
        (ReceiptPosted, _count_receipt),
        (ReturnPosted, _count_return),
        # Webhooks are told last, after every subscriber that could still refuse the
        # write: a webhook never announces a receipt a subscriber then refused.
        *_WEBHOOK_HANDLERS,
        (PointsCreditedInBulk, _webhook_points_in_bulk),
    ]
    for event_type, handler in subscriptions:
        runtime.subscribers.setdefault(event_type, []).append(handler)
    runtime.goals_reader = offers_progress.goal_progress_for_passes
    runtime.burns_reader = offers_progress.burn_notices_for_passes
    # Code, the same for every runtime: promotions ask segments through these.
    promotions.read_segments(member_of=_member_of, known=_known_segments)


def build_runtime(
    settings: settings_module.Settings | None = None,
    *,
    engine: Engine | None = None,
    owns_engine: bool | None = None,
) -> runtime_module.Runtime:
    """A runtime with its events connected; nothing is opened until it starts.
    ``engine``: one the caller made and keeps (the tests' session-wide pool), unless
    ``owns_engine`` hands it over to be closed with the runtime."""
    cfg = settings or settings_module.load()
    built = runtime_module.Runtime(
        settings=cfg,
        engine=engine or db.make_engine(cfg.database_url, pool_size=cfg.db_pool_size),
        owns_engine=engine is None if owns_engine is None else owns_engine,
    )
    connect(built)
    return built


@asynccontextmanager
async def running(
    settings: settings_module.Settings | None = None,
    *,
    engine: Engine | None = None,
    owns_engine: bool | None = None,
    pool: bool = True,
) -> AsyncIterator[runtime_module.Runtime]:
    """Build a runtime, make it current, bind the tables to its engine and start the pool;
    on exit close it and give the one before back its place (a test's app inside a test).
    ``pool=False``: no PostgreSQL pool (a command of a few queries)."""
    built = build_runtime(settings, engine=engine, owns_engine=owns_engine)
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


async def _count_receipt(_: Any) -> None:
    observe.RECEIPTS.inc()


async def _count_return(_: Any) -> None:
    observe.RETURNS.inc()


# What each event tells the webhook endpoints: its type (the body's ``type``, what an
# endpoint subscribes to) and the body's ``data`` drawn from the event. Never the person's
# name, phone or email: ``MemberJoined`` carries them for the welcome email, not for CRMs.
Data = Callable[[Any], dict[str, Any]]


def _fields(*names: str | tuple[str, str]) -> Data:
    """The event's fields of these names, in this order; ``(name, field)`` renames one."""
    pairs = [(name, name) if isinstance(name, str) else name for name in names]

    def data(event: Any) -> dict[str, Any]:
        return {name: getattr(event, field) for name, field in pairs}

    return data


def _all_fields(event: Any) -> dict[str, Any]:
    """Every field of the event but ``now`` (the body's ``created_at``), as it is."""
    data = msgspec.structs.asdict(event)
    del data["now"]
    return data


def _receipt_data(event: ReceiptPosted | ReturnPosted) -> dict[str, Any]:
    return {
        "account_id": event.account_id,
        "card_id": event.card_id,
        "receipt": event.receipt_pk,
        "occurred_at": event.occurred_at.isoformat(),
        "total_kopecks": sum(amount for _, amount in event.lines),
    }


def _erased_data(event: MemberErased) -> dict[str, Any]:
    # The ids a CRM knows the member by (the other events' member, account and cards), so
    # it can delete its copy; nothing of the person.
    return {
        "member_id": event.member_id,
        "account_id": event.account_id,
        "cards": [{"card_id": c.card_id, "card_number": c.card_number} for c in event.cards],
        "source": event.source,
        "erased_at": event.now.isoformat(),
    }


_CARD = ("card_id", "account_id", ("card_number", "number"))
WEBHOOKS: dict[type, tuple[str, Data]] = {
    MemberJoined: ("member.joined", _fields("member_id", "account_id", "referrer_account_id")),
    # The profile or consents changed (a marketing opt-in or -out, the language): the
    # receiver reads the member anew.
    MemberChanged: ("member.changed", _fields("member_id", "account_id")),
    ConsentChanged: (
        "consent.changed",
        _fields("member_id", "account_id", "consent", "value", "source"),
    ),
    CardIssued: ("card.issued", _fields(*_CARD, "kind", "role", "replaces")),
    CardBlocked: ("card.blocked", _fields(*_CARD)),
    MemberErased: ("member.erased", _erased_data),
    PointsChanged: ("points.changed", _all_fields),
    TierChanged: ("tier.changed", _all_fields),
    CouponIssued: ("coupon.issued", _all_fields),
    CouponUsed: ("coupon.used", _all_fields),
    CashbackSettled: ("cashback.settled", _all_fields),
    ReceiptPosted: ("receipt.posted", _receipt_data),
    ReturnPosted: ("receipt.returned", _receipt_data),
}
"""Event -> (webhook event type, its ``data``); ``connect`` subscribes each, after the
event's other subscribers. The ledger's set-based credits (``PointsCreditedInBulk``: the
month-end cashback, an import's opening balances) are told apart: set-based, not one event
at a time."""


def _webhook(event_type: str, data: Data) -> runtime_module.Handler:
    async def publish(event: Any) -> None:
        await webhooks.publish(
            event_type=event_type, account_id=event.account_id, data=data(event), now=event.now
        )

    return publish


# Made once, like the module's other handlers: every runtime subscribes the same ones.
_WEBHOOK_HANDLERS = [(event, _webhook(name, data)) for event, (name, data) in WEBHOOKS.items()]


async def _webhook_points_in_bulk(event: PointsCreditedInBulk) -> None:
    # A set-based credit (the month-end cashback, an import's opening balances):
    # ``points.changed`` for every account it credited, set-based too (the same body the
    # door's event gets).
    await webhooks.publish_set(
        event_type="points.changed",
        rows=event.rows,
        args=event.args,
        columns=POINTS_CHANGED_COLUMNS,
        now=event.now,
    )


async def _member_of(ids: frozenset[int], account_id: int, now: datetime) -> frozenset[int]:
    saved = await segments.segments_by_id(sorted(ids))
    return frozenset(
        [
            sid
            for sid, seg in saved.items()
            if await segments.matches(seg.filter, account_id, now=now)
        ]
    )


async def _known_segments(ids: list[int]) -> set[int]:
    return set(await segments.segments_by_id(ids))


async def _refuse_if_promotion_uses(event: SegmentDeleting) -> None:
    """A live promotion's ``segments`` condition holds its segments: deleting one would
    make the promotion silently apply to nobody (promotions sit below segments, so the
    refusal is raised here)."""
    users = await promotions.promotions_using_segment(event.segment_id)
    if users:
        named = ", ".join(f"{promotion_id} «{name}»" for promotion_id, name in users)
        raise segments.SegmentInUse(
            f"segment {event.segment_id} decides who gets promotion {named}; end the "
            "promotion (POST /api/v1/admin/promotions/{id}/end) first",
            {
                "segment_id": event.segment_id,
                "promotion_ids": [promotion_id for promotion_id, _ in users],
                "promotion_names": [name for _, name in users],
            },
        )
