"""The cashback page's data, from the offers service: each offer running now with my goal,
my progress this month and last month's result."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from wallet import db
from wallet.errors import NotFound
from wallet.offers import service as offers


class OfferView(msgspec.Struct, frozen=True):
    status: Any  # offers.schemas.MyOfferStatus
    progress: Any  # offers.schemas.Progress | None
    last_month: Any  # offers.schemas.Progress | None


async def view(*, account_id: int, member_id: int, now: datetime) -> list[OfferView]:
    mine = await offers.my_offers(account_id, now=now)
    month = offers.month_key(now)
    previous = offers.shift_month(month, -1)
    month_start, _end = offers.month_bounds(month)
    result = []
    for status in mine.offers:
        offer_id = status.offer.id
        current = last = None
        if status.opted_in or status.goal_kopecks is not None:
            try:
                found = await offers.progress(offer_id, account_id=account_id, now=now)
                current = found if found.month == month else None
            except NotFound:
                current = None
        try:
            found = await offers.progress(
                offer_id, account_id=account_id, now=month_start - timedelta(seconds=1)
            )
            last = found if found.month == previous else None
        except NotFound:
            last = None
        result.append(OfferView(status=status, progress=current, last_month=last))
    return result


async def opt_in(*, account_id: int, member_id: int, offer_id: int, now: datetime) -> None:
    if offers is None:
        raise NotFound("no cashback offer right now")
    async with db.write_transaction():
        await offers.opt_in(offer_id, account_id=account_id, now=now)
