"""Whether a campaign brought money: what its recipients bought over a window after it
started against what its held-out control group bought over the same days.

Both groups count only shoppers the campaign could reach (an address and consent on at
least one of its channels), so consent does not tilt the comparison: the held-out were
drawn by a hash before anything was sent (``wallet.campaigns.holdout``), and everyone the
campaign meant to reach counts as a recipient even if a message then failed (an
intention-to-treat comparison: the question is what sending the campaign did).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from wallet import db
from wallet.campaigns import service as campaigns
from wallet.errors import InvalidInput
from wallet.reports import queries, stats
from wallet.reports.schemas import CampaignOutcome, GroupFigures, MetricComparison
from wallet.reports.service import analytical

DEFAULT_WINDOW_DAYS = 14
# A longer window mixes the campaign's effect with everything else that happened since.
MAX_WINDOW_DAYS = 90

_COLUMNS = ("shoppers", "buyers", "receipts", "receipts_sq", "revenue", "revenue_sq", "points")
_EMPTY: dict[str, Any] = dict.fromkeys((*_COLUMNS, "points_sq"), 0)


def _group(row: dict[str, Any]) -> GroupFigures:
    return GroupFigures(
        shoppers=int(row["shoppers"] or 0),
        buyers=int(row["buyers"] or 0),
        receipts=int(row["receipts"] or 0),
        revenue_kopecks=int(row["revenue"] or 0),
        points=int(row["points"] or 0),
    )


def _comparison(
    metric: str, method: str, ours: float, theirs: float, found: stats.Interval
) -> MetricComparison:
    return MetricComparison(
        metric=metric,
        method=method,
        recipients=round(ours, 6),
        held_out=round(theirs, 6),
        difference=round(found.difference, 6),
        relative=round(found.difference / theirs, 6) if theirs else None,
        ci_low=round(found.low, 6),
        ci_high=round(found.high, 6),
        enough=found.enough,
        significant=found.excludes_zero,
    )


def _metrics(a: dict[str, Any], b: dict[str, Any]) -> list[MetricComparison]:
    n1, n2 = int(a["shoppers"] or 0), int(b["shoppers"] or 0)
    buyers1, buyers2 = int(a["buyers"] or 0), int(b["buyers"] or 0)
    out = [
        _comparison(
            "buyers_share",
            "two_proportion_wald",
            buyers1 / n1 if n1 else 0.0,
            buyers2 / n2 if n2 else 0.0,
            stats.proportions(buyers1, n1, buyers2, n2),
        )
    ]
    for metric, column in (
        ("receipts_per_shopper", "receipts"),
        ("revenue_per_shopper_kopecks", "revenue"),
        ("points_per_shopper", "points"),
    ):
        total1, total2 = float(a[column] or 0), float(b[column] or 0)
        found = stats.means(
            total1, float(a[f"{column}_sq"] or 0), n1, total2, float(b[f"{column}_sq"] or 0), n2
        )
        out.append(
            _comparison(
                metric,
                "welch_t",
                total1 / n1 if n1 else 0.0,
                total2 / n2 if n2 else 0.0,
                found,
            )
        )
    return out


def _verdict(
    recipients: GroupFigures, held: GroupFigures, share: MetricComparison
) -> tuple[str, str]:
    if held.shoppers == 0:
        return (
            "no_control_group",
            "Nobody was held out of this campaign, so there is nothing to compare with: "
            "set holdout_bp (e.g. 1000 = 10%) on the next one.",
        )
    if not share.enough:
        return (
            "too_small",
            f"Too small to tell: {recipients.shoppers} recipients and {held.shoppers} "
            f"held out, {recipients.buyers} and {held.buyers} of them buyers. Each group "
            f"needs at least {stats.MIN_SHOPPERS} shoppers and {stats.MIN_EVENTS} buyers and "
            f"{stats.MIN_EVENTS} non-buyers before a difference means anything.",
        )
    points = f"{share.difference * 100:+.1f} points ({share.ci_low * 100:+.1f} to {share.ci_high * 100:+.1f}, 95%)"
    if share.significant:
        word = "uplift" if share.difference > 0 else "downlift"
        more = "more" if share.difference > 0 else "fewer"
        return word, f"Recipients bought {more} often than the held-out: buyers' share {points}."
    return (
        "no_difference",
        f"No difference the groups can show: buyers' share {points}; the interval includes 0.",
    )


@analytical
async def outcome(
    campaign_id: int, *, window_days: int = DEFAULT_WINDOW_DAYS, now: datetime
) -> CampaignOutcome:
    camp = await campaigns.get_campaign(campaign_id)  # CampaignNotFound: 404
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise InvalidInput(
            f"the window is 1 to {MAX_WINDOW_DAYS} days",
            {"window_days": window_days, "max_days": MAX_WINDOW_DAYS},
        )
    if camp.started_at is None:
        raise InvalidInput(
            f"campaign {campaign_id} has not been sent yet ({camp.status}): nothing to compare",
            {"campaign_id": campaign_id, "status": camp.status},
        )
    start = camp.started_at
    end = start + timedelta(days=window_days)
    rows = await db.fetch(queries.CAMPAIGN_GROUPS, campaign_id, start, end)
    by_group = {int(row["control"]): row for row in rows}
    a, b = by_group.get(0, _EMPTY), by_group.get(1, _EMPTY)
    recipients, held = _group(a), _group(b)
    metrics = _metrics(a, b)
    verdict, note = _verdict(recipients, held, metrics[0])
    if end > now:
        note += f" The window runs until {end.isoformat()}: these are partial figures."
    return CampaignOutcome(
        campaign_id=campaign_id,
        name=camp.name,
        status=camp.status,
        holdout_bp=camp.holdout_bp,
        started_at=start,
        window_days=window_days,
        window_start=start,
        window_end=end,
        complete=end <= now,
        recipients=recipients,
        held_out=held,
        metrics=metrics,
        verdict=verdict,
        note=note,
    )
