"""Whether a cashback offer brought money, month by month: how many opted in, reached the
goal and were paid, and what the opted-in spent against their own look-back months and
against shoppers who could have opted in and did not (over the same months).

Spend is ``account_spend_month`` (money paid, returns netted in the month of the sale), the
ledger's record tiers read too, so the figures match the tiers' and the liability's view.
"""

from __future__ import annotations

from datetime import datetime

from wallet import db
from wallet.errors import InvalidInput
from wallet.offers import service as offers
from wallet.reports import queries
from wallet.reports.schemas import OfferMonth, OfferOutcome
from wallet.reports.service import analytical

# Two years of months: a longer table is unreadable, and goals older than the data kept
# (receipts are accepted up to 400 days back) say little.
MAX_MONTHS = 24
DEFAULT_MONTHS = 12


def _months(first: str, last: str) -> list[str]:
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = offers.shift_month(month, 1)
    return months


def check_months(start: str | None, end: str | None, *, offer_start: str, now: str) -> list[str]:
    last = end or now
    first = start or max(offers.shift_month(last, 1 - DEFAULT_MONTHS), offer_start)
    if first > last:
        raise InvalidInput(
            "the period is empty: to must not be before from", {"from": first, "to": last}
        )
    if last > now:
        raise InvalidInput(
            "to is in the future: months are known up to this one", {"to": last, "now": now}
        )
    months = _months(first, last)
    if len(months) > MAX_MONTHS:
        raise InvalidInput(
            f"the period is longer than {MAX_MONTHS} months",
            {"from": first, "to": last, "max_months": MAX_MONTHS},
        )
    return months


def _per(total: int, shoppers: int, months: int = 1) -> int:
    return round(total / (shoppers * months)) if shoppers and months else 0


async def _month(offer_id: int, month: str, lookback: int) -> OfferMonth:
    [goals] = await db.fetch(queries.OFFER_GOALS, offer_id, month)
    rows = await db.fetch(
        queries.OFFER_SPEND, offer_id, month, offers.shift_month(month, -lookback)
    )
    spend = {int(row["opted"]): row for row in rows}
    mine, theirs = spend.get(1), spend.get(0)
    n = int(mine["shoppers"]) if mine else 0
    others = int(theirs["shoppers"]) if theirs else 0
    now_mine = _per(int(mine["now_spent"]), n) if mine else 0
    before_mine = _per(int(mine["before_spent"]), n, lookback) if mine else 0
    now_theirs = _per(int(theirs["now_spent"]), others) if theirs else 0
    before_theirs = _per(int(theirs["before_spent"]), others, lookback) if theirs else 0
    return OfferMonth(
        month=month,
        opted_in=int(goals["opted_in"] or 0),
        reached=int(goals["reached"] or 0),
        missed=int(goals["missed"] or 0),
        open=int(goals["open"] or 0),
        points_paid=int(goals["points"] or 0),
        spend_per_shopper_kopecks=now_mine,
        lookback_per_shopper_kopecks=before_mine,
        others=others,
        others_spend_per_shopper_kopecks=now_theirs,
        others_lookback_per_shopper_kopecks=before_theirs,
        uplift_per_shopper_kopecks=(
            (now_mine - before_mine) - (now_theirs - before_theirs) if n and others else None
        ),
    )


@analytical
async def outcome(
    offer_id: int, *, start: str | None, end: str | None, now: datetime
) -> OfferOutcome:
    offer = await offers.get_offer(offer_id)  # OfferNotFound: 404
    months = check_months(
        start, end, offer_start=offers.month_key(offer.starts_at), now=offers.month_key(now)
    )
    lookback = max(offer.goal.lookback_months, 1)
    return OfferOutcome(
        offer_id=offer_id,
        name=offer.name,
        lookback_months=lookback,
        months=[await _month(offer_id, month, lookback) for month in months],
    )
