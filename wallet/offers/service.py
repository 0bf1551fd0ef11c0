"""Smart-goal cashback: offers, opting in, the personal monthly goal and live progress.

The month is a calendar month of the program's time zone (a receipt at 23:30 Moscow time on
31 January belongs to January). Progress lives in one row per enrolment and month
(``GoalMonth``), moved by receipts and returns in their own transaction, so what a shopper
sees and what settlement pays are the same number.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from wallet import clock, db
from wallet import settings as settings_module
from wallet.errors import Conflict, DomainError, InvalidInput, NotFound
from wallet.ledger import reads as ledger_reads
from wallet.ledger import service as ledger
from wallet.members import service as members
from wallet.offers import queries
from wallet.offers.schemas import (
    CardSpend,
    GoalExplanation,
    GoalPolicy,
    MonthSpend,
    MyOffers,
    MyOfferStatus,
    OfferChange,
    OfferIn,
    OfferOut,
    Progress,
)
from wallet.offers.tables import GoalMonth, Offer, OfferEnrolment
from wallet.passsync import outbox as pass_outbox
from wallet.platform import service as platform
from wallet.rules import service as rules_service
from wallet.segments import service as segments
from wallet.segments.events import SegmentDeleting

log = logging.getLogger("wallet.offers")


class OfferNotFound(NotFound):
    code = "offer_not_found"


class OfferNotAvailable(DomainError):
    status_code: ClassVar[int] = 422
    code: ClassVar[str] = "offer_not_available"


class OfferOverlap(Conflict):
    code = "offer_overlap"


class NotOptedIn(NotFound):
    code = "not_opted_in"


# --- months in the program's zone -------------------------------------------------------


def month_key(moment: datetime) -> str:
    local = moment.astimezone(settings_module.get().tz)
    return f"{local.year:04d}-{local.month:02d}"


def month_bounds(key: str) -> tuple[datetime, datetime]:
    """The first instant of the month and of the next one, in UTC."""
    year, month = (int(part) for part in key.split("-"))
    zone = settings_module.get().tz
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return clock.to_utc(start), clock.to_utc(end)


def shift_month(key: str, months: int) -> str:
    year, month = (int(part) for part in key.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def parse_month(text: str) -> str:
    try:
        year, month = (int(part) for part in text.split("-"))
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise ValueError
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a month; write YYYY-MM", {"month": text}) from exc
    return f"{year:04d}-{month:02d}"


def _ts(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return clock.to_utc(value)


def _list(value: Any) -> list[str]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return list(loaded or [])


def _ids(value: Any) -> list[int]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return [int(item) for item in loaded or []]


def _dict(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return dict(loaded or {})


# --- offers (the marketer's side) -------------------------------------------------------


def _offer_out(row: dict[str, Any], overlaps: list[int] | None = None) -> OfferOut:
    return OfferOut(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        rate_bp=row["rate_bp"],
        cap_points=row["cap_points"],
        validity_months=row["validity_months"],
        categories=_list(row["categories"]),
        goal=GoalPolicy(
            lookback_months=row["lookback_months"],
            uplift_percent=row["uplift_percent"],
            rounding_step_kopecks=row["rounding_step_kopecks"],
            min_goal_kopecks=row["min_goal_kopecks"],
            no_history_goal_kopecks=row["no_history_goal_kopecks"],
        ),
        renews_monthly=bool(row["renews_monthly"]),
        counts_whole_month=bool(row["counts_whole_month"]),
        starts_at=_ts(row["starts_at"]),
        ends_at=_ts(row["ends_at"]) if row["ends_at"] is not None else None,
        eligible_tiers=_list(row["eligible_tiers"]),
        eligible_segment_ids=_ids(row["eligible_segment_ids"]),
        status=row["status"],
        overlaps_with=overlaps or [],
    )


async def offer_row(offer_id: int) -> dict[str, Any]:
    row = await Offer.select().where(Offer.id == offer_id).first()
    if row is None:
        raise OfferNotFound(f"no offer {offer_id}", {"offer_id": offer_id})
    return row


async def get_offer(offer_id: int) -> OfferOut:
    row = await offer_row(offer_id)
    return _offer_out(row, await _overlapping(row))


def runs_during(row: dict[str, Any], start: datetime, end: datetime) -> bool:
    ends_at = _ts(row["ends_at"]) if row["ends_at"] is not None else None
    return _ts(row["starts_at"]) < end and (ends_at is None or ends_at > start)


async def _overlapping(row: dict[str, Any]) -> list[int]:
    """Other active offers that run at the same time for some of the same shoppers."""
    if row["status"] != "active":
        return []
    ends_at = (
        _ts(row["ends_at"])
        if row["ends_at"] is not None
        else datetime.max.replace(tzinfo=clock.now().tzinfo)
    )
    tiers = set(_list(row["eligible_tiers"]))
    # Groups (saved segments) are filters over behaviour that changes every day, so two
    # offers for different groups may still reach the same shopper: only disjoint card
    # levels prove two offers apart, with or without groups.
    found = []
    for other in await Offer.select().where((Offer.status == "active") & (Offer.id != row["id"])):
        other_tiers = set(_list(other["eligible_tiers"]))
        if tiers and other_tiers and not tiers & other_tiers:
            continue
        if runs_during(other, _ts(row["starts_at"]), ends_at):
            found.append(other["id"])
    return found


def _check_dates(starts_at: datetime, ends_at: datetime | None) -> None:
    if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
        raise InvalidInput("dates need a UTC offset, e.g. 2026-02-01T00:00:00+03:00")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at", {"field": "ends_at"})


async def _check_segments(segment_ids: list[int]) -> list[int]:
    """The ids, sorted and once each, after checking every one is a saved segment."""
    wanted = sorted(set(segment_ids))
    unknown = sorted(set(wanted) - set(await segments.segments_by_id(wanted, lock=True)))
    if unknown:
        raise segments.SegmentNotFound(
            f"no segment {', '.join(map(str, unknown))}; eligible_segment_ids takes the ids "
            "of saved segments (GET /api/v1/admin/segments)",
            {"segment_ids": unknown},
        )
    return wanted


async def offers_using_segment(segment_id: int) -> list[tuple[int, str]]:
    """Id and name of every active offer whose groups include the segment."""
    rows = await Offer.select(Offer.id, Offer.name, Offer.eligible_segment_ids).where(
        Offer.status == "active"
    )
    return [
        (int(row["id"]), row["name"])
        for row in sorted(rows, key=lambda r: int(r["id"]))
        if segment_id in _ids(row["eligible_segment_ids"])
    ]


async def refuse_if_segment_used(event: SegmentDeleting) -> None:
    """An active offer's groups hold their segments (subscribed in ``wallet.wiring``)."""
    users = await offers_using_segment(event.segment_id)
    if users:
        named = ", ".join(f"{offer_id} «{name}»" for offer_id, name in users)
        raise segments.SegmentInUse(
            f"segment {event.segment_id} decides who may opt in to offer {named}; remove it "
            "from the offer's eligible_segment_ids (PATCH /api/v1/admin/offers/{id}) or end "
            "the offer first",
            {
                "segment_id": event.segment_id,
                "offer_ids": [offer_id for offer_id, _ in users],
                "offer_names": [name for _, name in users],
            },
        )


async def create_offer(data: OfferIn, *, actor: str, now: datetime) -> OfferOut:
    _check_dates(data.starts_at, data.ends_at)
    segment_ids = await _check_segments(data.eligible_segment_ids)
    rows = await Offer.insert(
        Offer(
            name=data.name,
            description=data.description,
            rate_bp=data.rate_bp,
            cap_points=data.cap_points,
            validity_months=data.validity_months,
            categories=sorted(set(data.categories)),
            lookback_months=data.goal.lookback_months,
            uplift_percent=data.goal.uplift_percent,
            rounding_step_kopecks=data.goal.rounding_step_kopecks,
            min_goal_kopecks=data.goal.min_goal_kopecks,
            no_history_goal_kopecks=data.goal.no_history_goal_kopecks,
            renews_monthly=data.renews_monthly,
            counts_whole_month=data.counts_whole_month,
            starts_at=clock.to_utc(data.starts_at),
            ends_at=clock.to_utc(data.ends_at) if data.ends_at else None,
            eligible_tiers=sorted(set(data.eligible_tiers)),
            eligible_segment_ids=segment_ids,
            status="active",
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    ).returning(Offer.id)
    offer_id = int(rows[0]["id"])
    await platform.audit(
        actor=actor, action="offer.create", subject=f"offer:{offer_id}", details={"name": data.name}
    )
    return await get_offer(offer_id)


async def list_offers() -> list[OfferOut]:
    rows = await Offer.select().order_by(Offer.id)
    return [_offer_out(row, await _overlapping(row)) for row in rows]


async def change_offer(
    offer_id: int, change: OfferChange, *, actor: str, now: datetime
) -> OfferOut:
    row = await offer_row(offer_id)
    if row["status"] != "active":
        raise Conflict(f"offer {offer_id} has ended; create a new one", {"offer_id": offer_id})
    values: dict[Any, Any] = {Offer.updated_at: now}
    simple = (
        "name",
        "description",
        "rate_bp",
        "cap_points",
        "validity_months",
        "renews_monthly",
        "counts_whole_month",
    )
    for name in simple:
        if getattr(change, name) is not None:
            values[getattr(Offer, name)] = getattr(change, name)
    if change.categories is not None:
        values[Offer.categories] = sorted(set(change.categories))
    if change.eligible_tiers is not None:
        values[Offer.eligible_tiers] = sorted(set(change.eligible_tiers))
    if change.eligible_segment_ids is not None:
        values[Offer.eligible_segment_ids] = await _check_segments(change.eligible_segment_ids)
    if change.goal is not None:
        for name in GoalPolicy.__struct_fields__:
            values[getattr(Offer, name)] = getattr(change.goal, name)
    if change.ends_at is not None:
        _check_dates(_ts(row["starts_at"]), change.ends_at)
        values[Offer.ends_at] = clock.to_utc(change.ends_at)
    await Offer.update(values).where(Offer.id == offer_id)
    await platform.audit(
        actor=actor,
        action="offer.change",
        subject=f"offer:{offer_id}",
        details=msgspec.to_builtins(change),
    )
    return await get_offer(offer_id)


async def end_offer(offer_id: int, *, actor: str, now: datetime) -> OfferOut:
    """No new opt-ins from now; months already under way are settled as promised."""
    row = await offer_row(offer_id)
    ends_at = _ts(row["ends_at"]) if row["ends_at"] is not None else None
    await Offer.update(
        {
            Offer.status: "ended",
            Offer.ends_at: now if ends_at is None or ends_at > now else ends_at,
            Offer.updated_at: now,
        }
    ).where(Offer.id == offer_id)
    await platform.audit(actor=actor, action="offer.end", subject=f"offer:{offer_id}", details={})
    return await get_offer(offer_id)


# --- the goal ---------------------------------------------------------------------------


async def _spend(account_id: int, months: list[str], categories: list[str]) -> list[dict[str, Any]]:
    text, args = queries.spend_by_card(account_id, months, categories)
    return await db.fetch(text, *args)


def round_up(value: int, step: int) -> int:
    return -(-value // step) * step


async def compute_goal(
    offer: dict[str, Any], account_id: int, month: str
) -> tuple[int, GoalExplanation]:
    """The goal for ``month``: made from the full months before it, all cards of the
    account counted together."""
    lookback = int(offer["lookback_months"])
    window = [shift_month(month, -back) for back in range(lookback, 0, -1)]
    categories = _list(offer["categories"])
    rows = await _spend(account_id, window, categories)
    per_month: dict[str, int] = defaultdict(int)
    per_card: dict[int, int] = defaultdict(int)
    for row in rows:
        per_month[row["month"]] += int(row["paid"])
        per_card[int(row["card_id"])] += int(row["paid"])
    step = int(offer["rounding_step_kopecks"])
    minimum = int(offer["min_goal_kopecks"])
    uplift = int(offer["uplift_percent"])
    cards = {card.id: card for card in await members.cards_of_account(account_id)}
    by_card = [
        CardSpend(
            card_number=cards[card_id].number if card_id in cards else str(card_id),
            role=cards[card_id].role if card_id in cards else "unknown",
            spent_kopecks=amount,
        )
        for card_id, amount in sorted(per_card.items())
    ]
    # Months before the shopper's first purchase are not "usual spend": a shopper who
    # joined last month is judged on that month, not on two zeros before it.
    first = next((index for index, key in enumerate(window) if per_month.get(key, 0) > 0), None)
    months = [MonthSpend(month=key, spent_kopecks=per_month.get(key, 0)) for key in window]
    if first is None:
        goal = max(int(offer["no_history_goal_kopecks"]), minimum)
        return goal, GoalExplanation(
            method="no_history",
            months=months,
            by_card=by_card,
            typical_kopecks=0,
            uplift_percent=uplift,
            rounding_step_kopecks=step,
            min_goal_kopecks=minimum,
            text=(
                f"no purchases in the {lookback} months before {month}: "
                f"the offer's starting goal of {roubles_text(goal)} applies"
            ),
        )
    considered = sorted(per_month.get(key, 0) for key in window[first:])
    middle = len(considered) // 2
    typical = (
        considered[middle]
        if len(considered) % 2
        else (considered[middle - 1] + considered[middle]) // 2
    )
    raised = -(-typical * (100 + uplift) // 100)
    goal = max(round_up(raised, step), minimum)
    cards_text = ", ".join(
        f"card {c.card_number} ({c.role}) {roubles_text(c.spent_kopecks)}" for c in by_card
    )
    text = (
        f"median month of {', '.join(f'{m.month}: {roubles_text(m.spent_kopecks)}' for m in months[first:])}"
        f" is {roubles_text(typical)}; +{uplift}% = {roubles_text(raised)}; rounded up to "
        f"{roubles_text(step)} = {roubles_text(round_up(raised, step))}"
        + (
            f"; raised to the minimum {roubles_text(minimum)}"
            if goal > round_up(raised, step)
            else ""
        )
        + f". All cards of the account count: {cards_text}"
    )
    return goal, GoalExplanation(
        method="median_month_plus_uplift",
        months=months,
        by_card=by_card,
        typical_kopecks=typical,
        uplift_percent=uplift,
        rounding_step_kopecks=step,
        min_goal_kopecks=minimum,
        text=text,
    )


def roubles_text(kopecks: int) -> str:
    roubles, rest = divmod(kopecks, 100)
    return f"{roubles} ₽" if not rest else f"{roubles}.{rest:02d} ₽"


async def _month_spend(account_id: int, month: str, categories: list[str]) -> int:
    text, args = queries.month_spend(account_id, month, categories)
    rows = await db.fetch(text, *args)
    return int(rows[0]["paid"])


async def open_goal(
    offer: dict[str, Any],
    *,
    enrolment_id: int,
    account_id: int,
    month: str,
    counts_from: datetime,
    now: datetime,
) -> None:
    """Make the month's goal row (once: the unique key keeps the first)."""
    goal, explanation = await compute_goal(offer, account_id, month)
    start, end = month_bounds(month)
    spent = (
        await _month_spend(account_id, month, _list(offer["categories"]))
        if counts_from <= start
        else 0
    )
    await GoalMonth.insert(
        GoalMonth(
            enrolment_id=enrolment_id,
            offer_id=offer["id"],
            account_id=account_id,
            month=month,
            enrolment_month=f"{enrolment_id}:{month}",
            counts_from=counts_from,
            month_ends_at=end,
            goal_kopecks=goal,
            spent_kopecks=spent,
            explanation=msgspec.to_builtins(explanation),
            status="open",
            created_at=now,
        )
    ).on_conflict(target=GoalMonth.enrolment_month, action="DO NOTHING")


# --- the shopper's side -----------------------------------------------------------------


async def _eligibility(offer: dict[str, Any], account_id: int, now: datetime) -> str | None:
    """Why this account may not opt in now, or None."""
    if offer["status"] != "active":
        return "the offer has ended"
    if _ts(offer["starts_at"]) > now:
        return f"the offer starts on {_ts(offer['starts_at']).date().isoformat()}"
    if offer["ends_at"] is not None and _ts(offer["ends_at"]) <= now:
        return "the offer has ended"
    tiers = _list(offer["eligible_tiers"])
    if tiers:
        summary = await ledger_reads.summary(account_id, now=now)
        tier = (await rules_service.rules_at(now)).tier_for(summary.lifetime_spend_kopecks).name
        if tier not in tiers:
            return f"the offer is for card levels {', '.join(tiers)}; this card is {tier}"
    segment_ids = _ids(offer["eligible_segment_ids"])
    if segment_ids:
        groups = await segments.segments_by_id(segment_ids)
        for segment in groups.values():
            try:
                if await segments.matches(segment.filter, account_id, now=now):
                    return None
            except DomainError as exc:
                # A saved filter naming a tier or store that is gone admits nobody; the
                # shopper is told they are not in the group, the operator reads why here.
                log.warning(
                    "offer %s: segment %s «%s» no longer compiles (%s); nobody is in it",
                    offer["id"],
                    segment.id,
                    segment.name,
                    exc.message,
                )
        names = ", ".join(f"«{groups[i].name}»" for i in segment_ids if i in groups)
        return (
            f"the offer is for the groups {names or '(deleted)'}; this shopper is in none of them"
        )
    return None


async def _holds_other_offer(offer_id: int, account_id: int, month: str) -> int | None:
    rows = await db.fetch(queries.OTHER_ACTIVE_ENROLMENTS, month, account_id, offer_id)
    start, end = month_bounds(month)
    for row in rows:
        if row["goal_id"] is not None:
            return int(row["offer_id"])
        if row["renews_monthly"] and row["status"] == "active" and runs_during(row, start, end):
            return int(row["offer_id"])
    return None


async def opt_in(offer_id: int, *, account_id: int, now: datetime) -> Progress:
    """ "I want cashback": enrol the account and fix this month's goal. Idempotent."""
    await ledger.lock_account(account_id)
    offer = await offer_row(offer_id)
    month = month_key(now)
    key = f"{offer_id}:{account_id}"
    enrolment = (
        await OfferEnrolment.select(OfferEnrolment.id, OfferEnrolment.status)
        .where(OfferEnrolment.offer_account == key)
        .first()
    )
    goal_row = None
    if enrolment is not None:
        goal_row = (
            await GoalMonth.select(GoalMonth.id)
            .where(GoalMonth.enrolment_month == f"{enrolment['id']}:{month}")
            .first()
        )
    if enrolment is not None and enrolment["status"] == "active" and goal_row is not None:
        return await progress(offer_id, account_id=account_id, now=now)
    why_not = await _eligibility(offer, account_id, now)
    if why_not:
        raise OfferNotAvailable(why_not, {"offer_id": offer_id})
    other = await _holds_other_offer(offer_id, account_id, month)
    if other is not None:
        raise OfferOverlap(
            f"this account already takes part in offer {other} this month; one cashback "
            "offer at a time",
            {"offer_id": offer_id, "held_offer_id": other},
        )
    if enrolment is None:
        rows = await OfferEnrolment.insert(
            OfferEnrolment(
                offer=offer_id,
                account_id=account_id,
                offer_account=key,
                opted_in_at=now,
                status="active",
            )
        ).returning(OfferEnrolment.id)
        enrolment_id = int(rows[0]["id"])
    else:
        enrolment_id = int(enrolment["id"])
        await OfferEnrolment.update(
            {OfferEnrolment.status: "active", OfferEnrolment.opted_in_at: now}
        ).where(OfferEnrolment.id == enrolment_id)
    start, _end = month_bounds(month)
    await open_goal(
        offer,
        enrolment_id=enrolment_id,
        account_id=account_id,
        month=month,
        counts_from=start if offer["counts_whole_month"] else now,
        now=now,
    )
    await pass_outbox.queue_pass_update(account_id)
    return await progress(offer_id, account_id=account_id, now=now)


async def opt_out(offer_id: int, *, account_id: int, now: datetime) -> None:
    """Stop renewing; the month under way is still settled as promised."""
    await OfferEnrolment.update({OfferEnrolment.status: "left"}).where(
        OfferEnrolment.offer_account == f"{offer_id}:{account_id}"
    )


def reward_for(
    spent: int, goal: int, *, rate_bp: int, cap: int, point_value_kopecks: int
) -> tuple[int, bool]:
    """Points for a month and whether the cap cut them: nothing below the goal."""
    if spent < goal or spent <= 0:
        return 0, False
    raw = spent * rate_bp // (10_000 * point_value_kopecks)
    return min(raw, cap), raw > cap


async def progress(offer_id: int, *, account_id: int, now: datetime) -> Progress:
    offer = await offer_row(offer_id)
    month = month_key(now)
    row = await (
        GoalMonth.select()
        .where(
            (GoalMonth.offer_id == offer_id)
            & (GoalMonth.account_id == account_id)
            & (GoalMonth.month <= month)
        )
        .order_by(GoalMonth.month, ascending=False)
        .first()
    )
    if row is None:
        raise NotOptedIn(
            f"this account has not opted in to offer {offer_id}; POST .../opt-in first",
            {"offer_id": offer_id},
        )
    return await progress_of(row, offer, now=now)


async def progress_of(row: dict[str, Any], offer: dict[str, Any], *, now: datetime) -> Progress:
    rules = await rules_service.rules_at(now)
    goal = int(row["goal_kopecks"])
    spent = int(row["spent_kopecks"])
    reward, capped = reward_for(
        spent,
        goal,
        rate_bp=int(offer["rate_bp"]),
        cap=int(offer["cap_points"]),
        point_value_kopecks=rules.point_value_kopecks,
    )
    ends_at = _ts(row["month_ends_at"])
    zone = settings_module.get().tz
    days_left = max(0, (ends_at.astimezone(zone).date() - now.astimezone(zone).date()).days)
    if now >= ends_at:
        days_left = 0
    return Progress(
        offer_id=int(offer["id"]),
        month=row["month"],
        goal_kopecks=goal,
        spent_kopecks=spent,
        remaining_kopecks=max(0, goal - spent),
        percent=100 if goal <= 0 else max(0, min(100, spent * 100 // goal)),
        reached=spent >= goal,
        days_left=days_left,
        month_ends_at=ends_at,
        reward_if_ended_now=int(row["reward_points"]) if row["status"] == "settled" else reward,
        cap_points=int(offer["cap_points"]),
        cap_applies=capped,
        rate_bp=int(offer["rate_bp"]),
        counts_from=_ts(row["counts_from"]),
        explanation=msgspec.convert(_dict(row["explanation"]), GoalExplanation),
        status=row["status"],
        outcome=row["outcome"] or None,
    )


async def my_offers(account_id: int, *, now: datetime) -> MyOffers:
    """Offers running now (and the ones I hold), with whether I may opt in and my goal."""
    month = month_key(now)
    enrolled = {
        row["offer"]: row
        for row in await OfferEnrolment.select().where(OfferEnrolment.account_id == account_id)
    }
    goals = {
        row["offer_id"]: row
        for row in await GoalMonth.select(GoalMonth.offer_id, GoalMonth.goal_kopecks).where(
            (GoalMonth.account_id == account_id) & (GoalMonth.month == month)
        )
    }
    result = []
    for row in await Offer.select().order_by(Offer.id):
        why_not = await _eligibility(row, account_id, now)
        if why_not and row["id"] not in goals:
            if row["status"] != "active" or (
                row["ends_at"] is not None and _ts(row["ends_at"]) <= now
            ):
                continue
        enrolment = enrolled.get(row["id"])
        goal = goals.get(row["id"])
        result.append(
            MyOfferStatus(
                offer=_offer_out(row),
                eligible=why_not is None,
                why_not=why_not,
                opted_in=enrolment is not None and enrolment["status"] == "active",
                month=month if goal else None,
                goal_kopecks=int(goal["goal_kopecks"]) if goal else None,
            )
        )
    return MyOffers(offers=result)


# --- receipts and returns move progress -------------------------------------------------
