"""The month's cashback progress as receipts and returns move it (in the till's
transaction, through the events wiring connects), the months opened for opted-in shoppers,
and what passes show of it: this month's goal and the next reminded burn."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from passes.card import BurnNotice, GoalProgress
from wallet import db
from wallet.ledger import service as ledger
from wallet.offers import expiry, queries
from wallet.offers.service import (
    month_bounds,
    month_key,
    offer_row,
    open_goal,
    progress_of,
    runs_during,
)
from wallet.offers.tables import GoalMonth
from wallet.passsync import outbox as pass_outbox
from wallet.receipts.events import ReceiptPosted, ReturnPosted

log = logging.getLogger("wallet.offers")


async def on_receipt(event: ReceiptPosted) -> None:
    """A receipt moves progress, in its own transaction (subscribed in ``wallet.wiring``)."""
    await _record_spend(
        account_id=event.account_id,
        card_id=event.card_id,
        occurred_at=event.occurred_at,
        lines=event.lines,
        now=event.now,
    )


async def on_return(event: ReturnPosted) -> None:
    """A return moves progress back in the month of the sale (``occurred_at`` is the
    sale's time), by the money given back per category."""
    await _record_spend(
        account_id=event.account_id,
        card_id=event.card_id,
        occurred_at=event.occurred_at,
        lines=[(category, -amount) for category, amount in event.lines],
        now=event.now,
    )


async def _record_spend(
    *,
    account_id: int,
    card_id: int,
    occurred_at: datetime,
    lines: Sequence[tuple[str, int]],
    now: datetime,
) -> None:
    month = month_key(occurred_at)
    by_category: dict[str, int] = defaultdict(int)
    for category, amount in lines:
        by_category[category] += amount
    spent = [(category, amount) for category, amount in by_category.items() if amount]
    spend = [
        value
        for category, amount in spent
        for value in (
            f"{account_id}:{card_id}:{month}:{category}",
            account_id,
            card_id,
            month,
            category,
            amount,
        )
    ]
    if spent and not db.is_sqlite():
        rows = await db.fetch(
            queries.add_spend_then_enrolments(len(spent)), *spend, month, account_id
        )
    else:
        if spent:
            await db.fetch(queries.add_spend(len(spent)), *spend)
        rows = await db.fetch(queries.ACTIVE_ENROLMENTS, month, account_id)
    for row in rows:
        if row["goal_id"] is None:
            # A renewing offer opens the month's goal at the first purchase of the month
            # (or at the month-start job); the row is made from the spend recorded above.
            start, end = month_bounds(month)
            if (
                row["renews_monthly"]
                and month == month_key(now)
                and month > month_key(row["opted_in_at"])
                and row["status"] == "active"
                and runs_during(row, start, end)
            ):
                offer = await offer_row(int(row["offer_id"]))
                await open_goal(
                    offer,
                    enrolment_id=int(row["enrolment_id"]),
                    account_id=account_id,
                    month=month,
                    counts_from=start,
                    now=now,
                )
            continue
        if row["goal_status"] != "open" or occurred_at < row["counts_from"]:
            continue
        categories = set(row["categories"] or ())
        counted = sum(
            amount for category, amount in lines if not categories or category in categories
        )
        if counted:
            await db.fetch(queries.ADD_GOAL_SPEND, counted, row["goal_id"])


async def open_month(month: str, *, now: datetime) -> int:
    """Open the month's goals of every renewing enrolment (the month-start job), so passes
    show the new goal before the first purchase. Returns how many were opened."""
    start, end = month_bounds(month)
    rows = await db.fetch(queries.GOALS_TO_OPEN, month)
    opened = 0
    offers: dict[int, dict[str, Any]] = {}
    for row in rows:
        offer = offers.get(row["offer"]) or await offer_row(int(row["offer"]))
        offers[offer["id"]] = offer
        if not runs_during(offer, start, end):
            continue
        async with db.write_transaction():
            await ledger.lock_account(int(row["account_id"]))
            await open_goal(
                offer,
                enrolment_id=int(row["id"]),
                account_id=int(row["account_id"]),
                month=month,
                counts_from=start,
                now=now,
            )
            await pass_outbox.queue_pass_update(int(row["account_id"]))
        opened += 1
    return opened


# --- what passes show -------------------------------------------------------------------


async def goal_progress_for_pass(account_id: int, *, now: datetime) -> GoalProgress | None:
    """This month's goal and progress for the account's passes, once the shopper opted in."""
    return (await goal_progress_for_passes([account_id], now=now)).get(account_id)


async def goal_progress_for_passes(
    account_ids: list[int], *, now: datetime
) -> dict[int, GoalProgress]:
    """``goal_progress_for_pass`` for many accounts in one IN query a 500; an account
    without a goal this month is left out."""
    month = month_key(now)
    ids = sorted(set(account_ids))
    rows: dict[int, dict[str, Any]] = {}
    for chunk in db.chunks(ids):
        for row in (
            await GoalMonth.select()
            .where((GoalMonth.account_id.is_in(chunk)) & (GoalMonth.month == month))
            .order_by(GoalMonth.id)
        ):
            rows.setdefault(int(row["account_id"]), row)  # the first offer's, as before
    offers: dict[int, dict[str, Any]] = {}
    found: dict[int, GoalProgress] = {}
    for account_id, row in rows.items():
        offer_id = int(row["offer_id"])
        if offer_id not in offers:
            offers[offer_id] = await offer_row(offer_id)
        shown = await progress_of(row, offers[offer_id], now=now)
        found[account_id] = GoalProgress(
            goal_kopecks=shown.goal_kopecks,
            spent_kopecks=shown.spent_kopecks,
            reward_points=shown.reward_if_ended_now,
            cap_points=shown.cap_points,
            month_ends_at=shown.month_ends_at,
        )
    return found


async def burn_notices_for_passes(
    account_ids: list[int], *, now: datetime
) -> dict[int, BurnNotice]:
    """The reminded burns the passes of these accounts show (accounts without one left out)."""
    found = await expiry.reminders_due(account_ids, now=now)
    return {
        account_id: BurnNotice(points=points, burns_on=day)
        for account_id, (points, day, _at) in found.items()
    }


async def burn_reminder_for_pass(account_id: int, *, now: datetime) -> tuple[int, datetime] | None:
    """Points and time of the next burn, if a reminder for it has gone out."""
    return await expiry.reminder_due(account_id, now=now)


async def add_history(purchases: Sequence[tuple[int, int, datetime, str, int]]) -> None:
    """Purchases made before the program (account, card, when, category, kopecks), added
    to the months goals are made from, set-based (an import of an old program's receipts).
    They are history: no open goal moves, whatever month they fall in."""
    by_key: dict[tuple[int, int, str, str], int] = defaultdict(int)
    for account_id, card_id, at, category, kopecks in purchases:
        by_key[(account_id, card_id, month_key(at), category)] += kopecks
    rows = [(f"{a}:{c}:{m}:{cat}", a, c, m, cat, k) for (a, c, m, cat), k in sorted(by_key.items())]
    await db.fetch_many(
        rows, sqlite=queries.add_spends, postgres=queries.ADD_SPENDS, per_statement=4000
    )
