"""Who listens to whom: the one place where domains are connected upward.

Lower domains publish events (``wallet.platform.events``) or take readers instead of
importing the domains above them; this module, above every domain, connects them. The app
(``create_app``), the command line (``wallet.cli.main``) and the tests call ``connect``
at start-up; it may run more than once.

- the till's receipts and returns move cashback progress (offers), in their transaction;
- deleting a segment asks offers whether an active offer still names it;
- new members, their profile and consents, their receipts and returns pay event bonuses
  (welcome, birthday, referral, profile, marketing consent), in the same transaction;
- a receipt queues the balance push to a card issued in «Кошелёк» (rate limited);
- passes show the offers' goal of the month and the next reminded burn;
- promotions for saved segments ask segments whom they hold (resolved before pricing);
- receipts and returns are counted for the metrics (``wallet.observe``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wallet import observe
from wallet.bonuses import service as bonuses
from wallet.koshelek import push as koshelek_push
from wallet.members.events import MemberChanged, MemberJoined
from wallet.offers import service as offers
from wallet.passsync import view as pass_view
from wallet.platform import events
from wallet.promotions import service as promotions
from wallet.receipts.events import ReceiptPosted, ReturnPosted
from wallet.segments import service as segments
from wallet.segments.events import SegmentDeleting


def connect() -> None:
    events.subscribe(ReceiptPosted, offers.on_receipt)
    events.subscribe(ReturnPosted, offers.on_return)
    events.subscribe(ReceiptPosted, bonuses.on_receipt)
    events.subscribe(ReturnPosted, bonuses.on_return)
    events.subscribe(ReceiptPosted, koshelek_push.on_receipt)
    events.subscribe(MemberJoined, bonuses.on_joined)
    events.subscribe(MemberChanged, bonuses.on_changed)
    events.subscribe(SegmentDeleting, offers.refuse_if_segment_used)
    # Counted last, after every subscriber that could still refuse the receipt.
    events.subscribe(ReceiptPosted, _count_receipt)
    events.subscribe(ReturnPosted, _count_return)
    pass_view.read_offer_facts(
        goals=offers.goal_progress_for_passes, burns=offers.burn_notices_for_passes
    )
    promotions.read_segments(member_of=_member_of, known=_known_segments)


async def _count_receipt(_: Any) -> None:
    observe.RECEIPTS.inc()


async def _count_return(_: Any) -> None:
    observe.RETURNS.inc()


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
