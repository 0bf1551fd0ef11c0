"""Program health over a period of months: retention cohorts (members by join month and
the share who bought in each month after) and, per month, active shoppers, receipts and
the average receipt; tiers and RFM groups at each month end and the moves between them
(``standings``).

Not here, and why: the share of receipts with a card needs the chain's receipts without
one, which the till never sends (it posts loyalty receipts only).
"""

from __future__ import annotations

from datetime import datetime

from wallet import db
from wallet.offers import service as offers
from wallet.reports import queries
from wallet.reports.offer_outcome import check_months
from wallet.reports.schemas import ActivityMonth, Cohort, ProgramHealth
from wallet.reports.service import analytical, zone_argument
from wallet.reports.standings import STANDINGS_NOTE, standings

CARD_SHARE_NOTE = (
    "The till posts only receipts with a loyalty card, so receipts without one are not "
    "known here and their share cannot be told."
)


@analytical
async def health(start: str | None, end: str | None, *, now: datetime) -> ProgramHealth:
    months = check_months(start, end, offer_start="2000-01", now=offers.month_key(now))
    first, last = months[0], months[-1]
    since, _ = offers.month_bounds(first)
    _, until = offers.month_bounds(last)
    zone = zone_argument(since)
    sizes = {
        str(row["cohort"]): int(row["members"])
        for row in await db.fetch(queries.COHORT_SIZES, since, until, zone)
    }
    buyers: dict[str, dict[str, int]] = {}
    for row in await db.fetch(queries.COHORT_BUYERS, since, until, zone, first, last):
        buyers.setdefault(str(row["cohort"]), {})[str(row["month"])] = int(row["buyers"])
    cohorts = []
    for cohort in months:
        members = sizes.get(cohort, 0)
        after = months[months.index(cohort) :]
        counts = [buyers.get(cohort, {}).get(month, 0) for month in after]
        cohorts.append(
            Cohort(
                month=cohort,
                members=members,
                buyers=counts,
                shares=[round(c / members, 4) if members else 0.0 for c in counts],
            )
        )
    activity = {
        str(row["month"]): row for row in await db.fetch(queries.ACTIVITY, since, until, zone)
    }
    out = []
    for month in months:
        found = activity.get(month)
        receipts = int(found["receipts"]) if found else 0
        revenue = int(found["revenue"] or 0) if found else 0
        out.append(
            ActivityMonth(
                month=month,
                active_shoppers=int(found["shoppers"]) if found else 0,
                receipts=receipts,
                revenue_kopecks=revenue,
                average_receipt_kopecks=round(revenue / receipts) if receipts else 0,
            )
        )
    return ProgramHealth(
        start=first,
        end=last,
        cohorts=cohorts,
        months=out,
        card_share_note=CARD_SHARE_NOTE,
        standings=await standings(months, now=now),
        standings_note=STANDINGS_NOTE,
    )
