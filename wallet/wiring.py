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
- members joining and changing (profile, consents), receipts and returns become webhook
  deliveries for the endpoints that asked for them, in the same transaction (the ledger's
  set-based credit too: ``points.changed`` for each account, in one statement).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import msgspec
from piccolo.engine.base import Engine

from wallet import db, observe
from wallet import runtime as runtime_module
from wallet import settings as settings_module
from wallet.bonuses import service as bonuses
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
        (MemberJoined, _webhook_joined),
        (MemberChanged, _webhook_changed),
        (ConsentChanged, _webhook_consent),
        (CardIssued, _webhook_card_issued),
        (CardBlocked, _webhook_card_blocked),
        (PointsChanged, _webhook_struct("points.changed")),
        (PointsCreditedInBulk, _webhook_points_in_bulk),
        (TierChanged, _webhook_struct("tier.changed")),
        (CouponIssued, _webhook_struct("coupon.issued")),
        (CouponUsed, _webhook_struct("coupon.used")),
        (CashbackSettled, _webhook_struct("cashback.settled")),
        (SegmentDeleting, offers.refuse_if_segment_used),
        (SegmentDeleting, _refuse_if_promotion_uses),
        # Counted last, after every subscriber that could still refuse the receipt.
        (ReceiptPosted, _count_receipt),
        (ReturnPosted, _count_return),
        # Told last too: a webhook never announces a receipt a subscriber then refused.
        (ReceiptPosted, _webhook_receipt),
        (ReturnPosted, _webhook_return),
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


async def _webhook_joined(event: MemberJoined) -> None:
    await webhooks.publish(
        event_type="member.joined",
        account_id=event.account_id,
        data={
            "member_id": event.member_id,
            "account_id": event.account_id,
            "referrer_account_id": event.referrer_account_id,
        },
        now=event.now,
    )


async def _webhook_changed(event: MemberChanged) -> None:
    # The profile or consents changed (a marketing opt-in or -out, the language): the
    # receiver reads the member anew.
    await webhooks.publish(
        event_type="member.changed",
        account_id=event.account_id,
        data={"member_id": event.member_id, "account_id": event.account_id},
        now=event.now,
    )


async def _webhook_consent(event: ConsentChanged) -> None:
    await webhooks.publish(
        event_type="consent.changed",
        account_id=event.account_id,
        data={
            "member_id": event.member_id,
            "account_id": event.account_id,
            "consent": event.consent,
            "value": event.value,
            "source": event.source,
        },
        now=event.now,
    )


async def _webhook_card_issued(event: CardIssued) -> None:
    await webhooks.publish(
        event_type="card.issued",
        account_id=event.account_id,
        data={
            "card_id": event.card_id,
            "account_id": event.account_id,
            "card_number": event.number,
            "kind": event.kind,
            "role": event.role,
            "replaces": event.replaces,
        },
        now=event.now,
    )


async def _webhook_card_blocked(event: CardBlocked) -> None:
    await webhooks.publish(
        event_type="card.blocked",
        account_id=event.account_id,
        data={
            "card_id": event.card_id,
            "account_id": event.account_id,
            "card_number": event.number,
        },
        now=event.now,
    )


def _webhook_struct(event_type: str) -> runtime_module.Handler:
    """An event whose fields (all but ``now``) are the webhook's ``data`` as they are."""

    async def publish(event: Any) -> None:
        data = msgspec.structs.asdict(event)
        now = data.pop("now")
        await webhooks.publish(
            event_type=event_type, account_id=data["account_id"], data=data, now=now
        )

    return publish


async def _webhook_points_in_bulk(event: PointsCreditedInBulk) -> None:
    # The month-end cashback's set-based credit: ``points.changed`` for every account it
    # credited, set-based too (the same body the door's event gets).
    await webhooks.publish_set(
        event_type="points.changed",
        rows=event.rows,
        args=event.args,
        columns=POINTS_CHANGED_COLUMNS,
        now=event.now,
    )


def _receipt_data(event: ReceiptPosted | ReturnPosted) -> dict[str, Any]:
    return {
        "account_id": event.account_id,
        "card_id": event.card_id,
        "receipt": event.receipt_pk,
        "occurred_at": event.occurred_at.isoformat(),
        "total_kopecks": sum(amount for _, amount in event.lines),
    }


async def _webhook_receipt(event: ReceiptPosted) -> None:
    await webhooks.publish(
        event_type="receipt.posted",
        account_id=event.account_id,
        data=_receipt_data(event),
        now=event.now,
    )


async def _webhook_return(event: ReturnPosted) -> None:
    await webhooks.publish(
        event_type="receipt.returned",
        account_id=event.account_id,
        data=_receipt_data(event),
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
            },
        )
