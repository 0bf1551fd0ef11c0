"""What the ledger tells without changing anything: an account's figures (one or many in
a few IN queries), its history, its tier standing, the lots a receipt's redemption took,
and the reconciliation every test ends with. Writes go through ``service.account`` (the
one door); nothing here locks or writes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from wallet import clock, db
from wallet import settings as settings_module
from wallet.errors import AccountNotFound
from wallet.ledger import queries
from wallet.ledger.schemas import Expiry, JournalLine, LotTaken, Summary
from wallet.ledger.tables import Account, JournalEntry, Lot
from wallet.rules import service as rules_service
from wallet.rules.schemas import Rules, TierStanding

# The account row's totals, as the unit of work and the reads select them.
STATE_COLUMNS = (
    Account.id,
    Account.balance,
    Account.pending,
    Account.debt,
    Account.lifetime_spend_kopecks,
    Account.next_lot_event_at,
)


async def tier_standing(
    account_id: int, *, now: datetime, lifetime_spend_kopecks: int, rules: Rules | None = None
) -> TierStanding:
    """The account's tier and progress to the next one under the rules in force at ``now``
    (the one tier computation, ``Rules.standing``; this adds the months it reads)."""
    found = await tier_standings({account_id: lifetime_spend_kopecks}, now=now, rules=rules)
    return found[account_id]


async def tier_standings(
    lifetime_spend_kopecks: dict[int, int], *, now: datetime, rules: Rules | None = None
) -> dict[int, TierStanding]:
    """``tier_standing`` of many accounts (account id -> lifetime spend), their months read
    in one IN query a 500 accounts."""
    rules = rules or await rules_service.rules_at(now)
    today = clock.local_date(now, settings_module.get().tz)
    first = rules.first_counted_month(today)
    months: dict[int, dict[str, int]] = {account_id: {} for account_id in lifetime_spend_kopecks}
    if first:
        for chunk in db.chunks(sorted(months)):
            for row in await db.fetch(queries.spend_months_since(len(chunk)), first, *chunk):
                months[int(row["account_id"])][row["month"]] = int(row["spent_kopecks"])
    return {
        account_id: rules.standing(lifetime, months[account_id], today)
        for account_id, lifetime in lifetime_spend_kopecks.items()
    }


async def redeemed_from(receipt_id: int) -> list[LotTaken]:
    """The lots a receipt's redemption took points from, in the order they were taken."""
    rows = (
        await JournalEntry.select(
            JournalEntry.lot, JournalEntry.points, JournalEntry.lot.expires_at.as_alias("exp")
        )
        .where((JournalEntry.receipt_id == receipt_id) & (JournalEntry.kind == "redeem"))
        .order_by(JournalEntry.id)
    )
    return [
        LotTaken(lot_id=row["lot"], points=-row["points"], expires_at=row["exp"]) for row in rows
    ]


async def summary(account_id: int, *, now: datetime) -> Summary:
    found = await summaries([account_id], now=now)
    if account_id not in found:
        raise AccountNotFound(f"no account {account_id}", {"account_id": account_id})
    return found[account_id]


async def summaries(account_ids: list[int], *, now: datetime) -> dict[int, Summary]:
    """``summary`` of many accounts in two IN queries a 500; accounts that do not exist
    are left out."""
    found: dict[int, Summary] = {}
    ids = sorted(set(account_ids))
    for chunk in db.chunks(ids):
        lots: dict[int, list[dict[str, Any]]] = {account_id: [] for account_id in chunk}
        for lot in (
            await Lot.select(
                Lot.account, Lot.remaining, Lot.expires_at, Lot.is_pending, Lot.available_from
            )
            .where((Lot.account.is_in(chunk)) & (Lot.remaining > 0) & (Lot.expires_at > now))
            .order_by(Lot.expires_at)
        ):
            lots[lot["account"]].append(lot)
        for row in await Account.select(*STATE_COLUMNS).where(Account.id.is_in(chunk)):
            found[row["id"]] = _summary_of(row, lots[row["id"]], now)
    return found


def burn_day(expires_at: datetime, zone: ZoneInfo) -> date:
    """The local day points expiring at ``expires_at`` burn "on", as a shopper reads it:
    valid until 31 January means gone at midnight, so a lot expiring at 00:00 burns on
    the day before."""
    return (expires_at - timedelta(microseconds=1)).astimezone(zone).date()


def _summary_of(row: dict[str, Any], lots: list[dict[str, Any]], now: datetime) -> Summary:
    """An account's figures from its row and its live lots (soonest expiry first)."""
    available = [lot for lot in lots if not lot["is_pending"] or lot["available_from"] <= now]
    next_expiry = None
    if available:
        # Every lot that burns on the first burn *day* (the program's zone, as the burn
        # reminder counts it), not only those of the first instant: lots earned at
        # different hours burn at different instants of one day, and the card said 21
        # where the reminder said 230.
        zone = settings_module.get().tz
        first_day = burn_day(available[0]["expires_at"], zone)
        next_expiry = Expiry(
            points=sum(
                lot["remaining"]
                for lot in available
                if burn_day(lot["expires_at"], zone) == first_day
            ),
            expires_at=available[0]["expires_at"],
        )
    matured = sum(
        lot["remaining"] for lot in lots if lot["is_pending"] and lot["available_from"] <= now
    )
    return Summary(
        # A pending lot that matured since the account was last written counts as available.
        balance=row["balance"] + matured,
        pending=row["pending"] - matured,
        debt=row["debt"],
        lifetime_spend_kopecks=row["lifetime_spend_kopecks"],
        next_expiry=next_expiry,
        pending_lots=[
            Expiry(points=lot["remaining"], expires_at=lot["available_from"])
            for lot in lots
            if lot["is_pending"] and lot["available_from"] > now
        ],
    )


async def history(
    account_id: int, *, limit: int, before_id: int | None = None
) -> list[JournalLine]:
    query = (
        JournalEntry.select(
            JournalEntry.id,
            JournalEntry.kind,
            JournalEntry.points,
            JournalEntry.receipt_id,
            JournalEntry.lot.expires_at.as_alias("lot_expires_at"),
            JournalEntry.actor,
            JournalEntry.reason,
            JournalEntry.created_at,
        )
        .where(JournalEntry.account == account_id)
        .order_by(JournalEntry.id, ascending=False)
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(JournalEntry.id < before_id)
    return [JournalLine(**row) for row in await query]


async def reconcile(account_id: int, *, now: datetime) -> list[str]:
    """What does not add up on this account (empty when the ledger is right):
    balance = available lots, pending = pending lots, each lot = its journal entries,
    and the journal = balance + pending - debt."""
    problems: list[str] = []
    account = await Account.select(*STATE_COLUMNS).where(Account.id == account_id).first()
    if account is None:
        return [f"account {account_id} does not exist"]
    lots = await Lot.select(Lot.id, Lot.remaining, Lot.is_pending, Lot.expires_at).where(
        Lot.account == account_id
    )
    available = sum(lot["remaining"] for lot in lots if not lot["is_pending"])
    pending = sum(lot["remaining"] for lot in lots if lot["is_pending"])
    if available != account["balance"]:
        problems.append(f"balance {account['balance']} but available lots hold {available}")
    if pending != account["pending"]:
        problems.append(f"pending {account['pending']} but pending lots hold {pending}")
    per_lot = await db.fetch(queries.JOURNAL_BY_LOT, account_id)
    sums = {row["lot"]: int(row["total"]) for row in per_lot}
    for lot in lots:
        if sums.get(lot["id"], 0) != lot["remaining"]:
            problems.append(
                f"lot {lot['id']} holds {lot['remaining']} but its journal sums to "
                f"{sums.get(lot['id'], 0)}"
            )
        if lot["remaining"] < 0:
            problems.append(f"lot {lot['id']} is negative")
    total = await db.fetch(queries.JOURNAL_TOTAL, account_id)
    journal = int(total[0]["total"])
    expected = account["balance"] + account["pending"] - account["debt"]
    if journal != expected:
        problems.append(f"journal sums to {journal}, balance + pending - debt is {expected}")
    if account["balance"] < 0:
        problems.append(f"balance is negative: {account['balance']}")
    return problems
