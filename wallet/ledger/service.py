"""The points ledger: lots, journal entries and the account's running totals.

Rules kept here, whatever the caller:
- points come in lots; each lot has its own expiry and, if pending, a maturity time;
- spending takes available lots in order of expiry (oldest-expiring first), never pending
  or expired ones, and never more than the balance;
- every change to a lot's ``remaining`` has a journal entry naming the lot, so a lot's
  entries sum to its remaining, and the account's entries sum to balance + pending - debt;
- the functions that change points must run inside ``db.write_transaction()`` after
  ``lock_account``: the lock serialises writers of one account on PostgreSQL
  (``SELECT ... FOR UPDATE``); on SQLite the IMMEDIATE transaction already does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from wallet import clock, db
from wallet.errors import AccountNotFound, InsufficientPoints, InvalidInput
from wallet.ledger.schemas import (
    AccountState,
    Expiry,
    JournalLine,
    LotTaken,
    Summary,
)
from wallet.ledger.tables import Account, JournalEntry, Lot

_STATE_COLUMNS = (
    Account.id,
    Account.balance,
    Account.pending,
    Account.debt,
    Account.lifetime_spend_kopecks,
    Account.next_lot_event_at,
)


async def open_account(*, now: datetime) -> int:
    rows = await Account.insert(Account(created_at=now)).returning(Account.id)
    return int(rows[0]["id"])


async def lock_account(account_id: int) -> AccountState:
    rows = await db.fetch(
        "SELECT id, balance, pending, debt, lifetime_spend_kopecks, next_lot_event_at "
        "FROM account WHERE id = $1 FOR UPDATE",
        account_id,
    )
    if not rows:
        raise AccountNotFound(f"no account {account_id}", {"account_id": account_id})
    return AccountState(**rows[0])


JournalRow = tuple[int, int | None, str, int, int | None, str, str, datetime]


async def _journal(entries: list[JournalRow]) -> None:
    """Insert journal entries (account, lot, kind, points, receipt, actor, reason, at) in
    one statement."""
    if not entries:
        return
    groups = ", ".join(
        "(" + ", ".join(f"${i * 8 + j + 1}" for j in range(8)) + ")" for i in range(len(entries))
    )
    await db.fetch(
        "INSERT INTO journal_entry (account, lot, kind, points, receipt_id, actor, reason, "
        f"created_at) VALUES {groups}",
        *[value for entry in entries for value in entry],
    )


async def _save_totals(state: AccountState) -> None:
    """Write the account's totals as the caller computed them under the account's lock."""
    await db.fetch(
        "UPDATE account SET balance = $1, pending = $2, debt = $3, lifetime_spend_kopecks = $4, "
        "next_lot_event_at = $5 WHERE id = $6",
        state.balance,
        state.pending,
        state.debt,
        state.lifetime_spend_kopecks,
        state.next_lot_event_at,
        state.id,
    )


async def settle_clock(state: AccountState, *, now: datetime) -> AccountState:
    """Expire the account's lots past their date and release matured pending lots.

    The write path calls this before spending, so a lot that expired a minute ago is never
    spent even if the nightly sweep has not run yet.
    """
    if state.next_lot_event_at is None or state.next_lot_event_at > now:
        return state
    due = await Lot.select(
        Lot.id, Lot.remaining, Lot.is_pending, Lot.available_from, Lot.expires_at
    ).where(
        (Lot.account == state.id)
        & (Lot.remaining > 0)
        & ((Lot.expires_at <= now) | ((Lot.is_pending == True) & (Lot.available_from <= now)))  # noqa: E712
    )
    expired_balance = expired_pending = released = 0
    entries: list[JournalEntry] = []
    for lot in due:
        if lot["expires_at"] <= now:
            entries.append(
                JournalEntry(
                    account=state.id,
                    lot=lot["id"],
                    kind="expire",
                    points=-lot["remaining"],
                    actor="system",
                    reason="points expired",
                    created_at=now,
                )
            )
            await Lot.update({Lot.remaining: 0, Lot.is_pending: False}).where(Lot.id == lot["id"])
            if lot["is_pending"]:
                expired_pending += lot["remaining"]
            else:
                expired_balance += lot["remaining"]
        else:
            await Lot.update({Lot.is_pending: False}).where(Lot.id == lot["id"])
            released += lot["remaining"]
    if entries:
        await JournalEntry.insert(*entries)
    next_event = await _next_lot_event(state.id)
    await Account.update(
        {
            Account.balance: Account.balance - expired_balance + released,
            Account.pending: Account.pending - expired_pending - released,
            Account.next_lot_event_at: next_event,
        }
    ).where(Account.id == state.id)
    state.balance += released - expired_balance
    state.pending -= expired_pending + released
    state.next_lot_event_at = next_event
    return state


async def _next_lot_event(account_id: int) -> datetime | None:
    rows = await db.raw(
        "SELECT MIN(CASE WHEN is_pending AND available_from < expires_at "
        "THEN available_from ELSE expires_at END) AS next_at "
        "FROM lot WHERE account = {} AND remaining > 0",
        account_id,
    )
    value = rows[0]["next_at"] if rows else None
    if isinstance(value, str):  # SQLite returns the raw text for an aggregate
        value = datetime.fromisoformat(value)
    return clock.to_utc(value) if value is not None else None


async def credit(
    state: AccountState,
    points: int,
    *,
    kind: str,
    source: str,
    earned_at: datetime,
    available_from: datetime,
    expires_at: datetime,
    now: datetime,
    receipt_id: int | None = None,
    actor: str = "system",
    reason: str = "",
) -> int:
    """A new lot of ``points``; a debt left by an earlier return is repaid from it first.

    A lot dated in the past may already be expired (an imported receipt): it is created and
    expired at once, so the journal still shows what was earned and when it burned.
    """
    pending = available_from > now
    repaid = min(state.debt, points)
    kept = points - repaid
    rows = await db.fetch(
        "INSERT INTO lot (account, amount, remaining, earned_at, available_from, expires_at, "
        "is_pending, source, receipt_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        state.id,
        points,
        kept,
        earned_at,
        available_from,
        expires_at,
        pending,
        source,
        receipt_id,
    )
    lot_id = int(rows[0]["id"])
    entries: list[JournalRow] = [(state.id, lot_id, kind, points, receipt_id, actor, reason, now)]
    if repaid:
        entries.append(
            (
                state.id,
                lot_id,
                "repay",
                -repaid,
                receipt_id,
                actor,
                "repays points owed after a return",
                now,
            )
        )
        entries.append((state.id, None, "repay", repaid, receipt_id, actor, "debt repaid", now))
    await _journal(entries)
    event_at = available_from if pending else expires_at
    if state.next_lot_event_at is None or event_at < state.next_lot_event_at:
        state.next_lot_event_at = event_at
    if pending:
        state.pending += kept
    else:
        state.balance += kept
    state.debt -= repaid
    await _save_totals(state)
    if expires_at <= now:
        await settle_clock(state, now=now)
    return lot_id


async def debit(
    state: AccountState,
    points: int,
    *,
    kind: str,
    now: datetime,
    receipt_id: int | None = None,
    actor: str = "system",
    reason: str = "",
) -> list[LotTaken]:
    """Take ``points`` from the available lots, oldest-expiring first."""
    if points <= 0:
        return []
    if points > state.balance:
        raise InsufficientPoints(
            f"account {state.id} has {state.balance} points available, {points} were asked",
            {"available": state.balance, "requested": points},
        )
    lots = await _spendable_lots(state.id, now)
    taken = await _take(
        state, lots, points, kind=kind, now=now, receipt_id=receipt_id, actor=actor, reason=reason
    )
    state.balance -= points
    await _save_totals(state)
    return taken


async def _spendable_lots(account_id: int, now: datetime) -> list[dict[str, Any]]:
    """Available lots in the order spending takes them: oldest-expiring first."""
    return await db.fetch(
        "SELECT id, remaining, expires_at FROM lot WHERE account = $1 AND remaining > 0 "
        "AND is_pending = $2 AND expires_at > $3 ORDER BY expires_at, id",
        account_id,
        False,
        now,
    )


async def _take(
    state: AccountState,
    lots: list[dict[str, Any]],
    points: int,
    *,
    kind: str,
    now: datetime,
    receipt_id: int | None,
    actor: str,
    reason: str,
) -> list[LotTaken]:
    left = points
    taken: list[LotTaken] = []
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot["remaining"])
        await db.fetch("UPDATE lot SET remaining = remaining - $1 WHERE id = $2", take, lot["id"])
        taken.append(LotTaken(lot_id=lot["id"], points=take, expires_at=lot["expires_at"]))
        left -= take
    if left:
        # The balance said there was enough; the lots disagree. Refuse rather than guess.
        raise RuntimeError(
            f"ledger of account {state.id} is inconsistent: balance {state.balance} but lots "
            f"hold {points - left}; run `wallet reconcile {state.id}`"
        )
    await _journal(
        [
            (state.id, item.lot_id, kind, -item.points, receipt_id, actor, reason, now)
            for item in taken
        ]
    )
    return taken


async def take_back(
    state: AccountState,
    points: int,
    *,
    from_lot: int | None,
    now: datetime,
    receipt_id: int | None,
    actor: str = "system",
    reason: str = "",
) -> dict[str, int]:
    """Take back points a receipt earned, because its goods came back.

    First from the lot the receipt created (whatever is left of it, pending or not), then,
    if the shopper already spent those points, from the available balance oldest-first;
    what is still missing becomes ``debt``, repaid from the next points earned. Nothing is
    created or lost: the journal records each part.
    """
    from_own = from_pending = from_balance = 0
    left = points
    if from_lot is not None and left:
        lot = await Lot.select(Lot.remaining, Lot.is_pending).where(Lot.id == from_lot).first()
        if lot is not None and lot["remaining"] > 0:
            own = min(left, lot["remaining"])
            await Lot.update({Lot.remaining: Lot.remaining - own}).where(Lot.id == from_lot)
            await _journal([(state.id, from_lot, "return", -own, receipt_id, actor, reason, now)])
            if lot["is_pending"]:
                from_pending = own
            else:
                from_own = own
            left -= own
    if left and state.balance - from_own > 0:
        from_balance = min(left, state.balance - from_own)
        await _take(
            state,
            await _spendable_lots(state.id, now),
            from_balance,
            kind="return",
            now=now,
            receipt_id=receipt_id,
            actor=actor,
            reason=reason,
        )
        left -= from_balance
    debt = left
    if debt:
        await JournalEntry.insert(
            JournalEntry(
                account=state.id,
                lot=None,
                kind="debt",
                points=-debt,
                receipt_id=receipt_id,
                actor=actor,
                reason="earned points were already spent; owed from future points",
                created_at=now,
            )
        )
    await Account.update(
        {
            Account.balance: Account.balance - from_own - from_balance,
            Account.pending: Account.pending - from_pending,
            Account.debt: Account.debt + debt,
        }
    ).where(Account.id == state.id)
    state.balance -= from_own + from_balance
    state.pending -= from_pending
    state.debt += debt
    return {
        "from_receipt_lot": from_own + from_pending,
        "from_balance": from_balance,
        "owed": debt,
    }


class Adjusted(msgspec.Struct, frozen=True):
    balance: int
    expires_at: datetime | None


async def adjust(
    account_id: int, points: int, *, reason: str, actor: str, now: datetime
) -> Adjusted:
    """A manual credit or debit by support, audited; runs in the caller's transaction."""
    from wallet.platform import service as platform
    from wallet.rules import service as rules_service

    if points == 0:
        raise InvalidInput("an adjustment of 0 points changes nothing", {"points": 0})
    state = await settle_clock(await lock_account(account_id), now=now)
    expires_at = None
    if points > 0:
        rules = await rules_service.rules_at(now)
        expires_at = clock.add_months(now, rules.validity_months)
        await credit(
            state,
            points,
            kind="adjust",
            source="adjustment",
            earned_at=now,
            available_from=now,
            expires_at=expires_at,
            now=now,
            actor=actor,
            reason=reason,
        )
    else:
        await debit(state, -points, kind="adjust", now=now, actor=actor, reason=reason)
    await platform.audit(
        actor=actor,
        action="points.adjust",
        subject=f"account:{account_id}",
        details={"points": points, "reason": reason},
    )
    await platform.enqueue_pass_update(account_id)
    return Adjusted(balance=state.balance, expires_at=expires_at)


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


async def add_spend(state: AccountState, kopecks: int) -> None:
    state.lifetime_spend_kopecks += kopecks
    await _save_totals(state)


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
        for row in await Account.select(*_STATE_COLUMNS).where(Account.id.is_in(chunk)):
            found[row["id"]] = _summary_of(row, lots[row["id"]], now)
    return found


def _summary_of(row: dict[str, Any], lots: list[dict[str, Any]], now: datetime) -> Summary:
    """An account's figures from its row and its live lots (soonest expiry first)."""
    available = [lot for lot in lots if not lot["is_pending"] or lot["available_from"] <= now]
    next_expiry = None
    if available:
        first_date = available[0]["expires_at"]
        next_expiry = Expiry(
            points=sum(lot["remaining"] for lot in available if lot["expires_at"] == first_date),
            expires_at=first_date,
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
    account = await Account.select(*_STATE_COLUMNS).where(Account.id == account_id).first()
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
    per_lot = await db.raw(
        "SELECT lot, SUM(points) AS total FROM journal_entry WHERE account = {} "
        "AND lot IS NOT NULL GROUP BY lot",
        account_id,
    )
    sums = {row["lot"]: int(row["total"]) for row in per_lot}
    for lot in lots:
        if sums.get(lot["id"], 0) != lot["remaining"]:
            problems.append(
                f"lot {lot['id']} holds {lot['remaining']} but its journal sums to "
                f"{sums.get(lot['id'], 0)}"
            )
        if lot["remaining"] < 0:
            problems.append(f"lot {lot['id']} is negative")
    total = await db.raw(
        "SELECT COALESCE(SUM(points), 0) AS total FROM journal_entry WHERE account = {}",
        account_id,
    )
    journal = int(total[0]["total"])
    expected = account["balance"] + account["pending"] - account["debt"]
    if journal != expected:
        problems.append(f"journal sums to {journal}, balance + pending - debt is {expected}")
    if account["balance"] < 0:
        problems.append(f"balance is negative: {account['balance']}")
    return problems


async def expire_all(*, now: datetime) -> int:
    """Settle the clock of every account with a lot due: expire lots past their date,
    release pending lots that matured, and queue the account's pass update, each account in
    its own short transaction. Returns how many accounts changed."""
    from wallet.platform import service as platform

    rows = await db.fetch(
        "SELECT id FROM account WHERE next_lot_event_at IS NOT NULL AND next_lot_event_at <= $1 "
        "ORDER BY id",
        now,
    )
    for row in rows:
        async with db.write_transaction():
            state = await lock_account(row["id"])
            await settle_clock(state, now=now)
            await platform.enqueue_pass_update(row["id"])
    return len(rows)


class Merged(msgspec.Struct, frozen=True):
    """What moved from one account to another."""

    lots: int
    balance: int
    pending: int
    debt: int
    debt_repaid: int
    lifetime_spend_kopecks: int


async def merge_accounts(
    source_account_id: int, target_account_id: int, *, now: datetime, actor: str, reason: str = ""
) -> Merged:
    """Move everything an account holds onto another (an anonymous plastic card joining a
    shopper's account): its live lots, its debt and its lifetime spend. Runs in the
    caller's transaction.

    The lots themselves move (same id, remaining, expiry, pending state and receipt), so a
    later return of a receipt posted on the plastic card still finds the lot it earned.
    Each moved lot gets a ``transfer`` entry of ``-remaining`` on the source account and
    ``+remaining`` on the target, so both journals still sum to their lots and totals.
    Debt moves the same way and is then repaid from the target's available points, as it
    would have been had the cards shared an account from the start.
    """
    if source_account_id == target_account_id:
        raise InvalidInput(
            "an account cannot be merged into itself", {"account_id": source_account_id}
        )
    # Lock in id order: two merges of the same pair in opposite directions wait, not deadlock.
    states: dict[int, AccountState] = {}
    for account_id in sorted((source_account_id, target_account_id)):
        states[account_id] = await settle_clock(await lock_account(account_id), now=now)
    source, target = states[source_account_id], states[target_account_id]
    lots = (
        await Lot.select(Lot.id, Lot.remaining, Lot.is_pending, Lot.receipt_id)
        .where((Lot.account == source.id) & (Lot.remaining > 0))
        .order_by(Lot.id)
    )
    entries: list[JournalEntry] = []
    for lot in lots:
        for account_id, points in ((source.id, -lot["remaining"]), (target.id, lot["remaining"])):
            entries.append(
                JournalEntry(
                    account=account_id,
                    lot=lot["id"],
                    kind="transfer",
                    points=points,
                    receipt_id=lot["receipt_id"],
                    actor=actor,
                    reason=reason,
                    created_at=now,
                )
            )
    if lots:
        await Lot.update({Lot.account: target.id}).where(Lot.id.is_in([lot["id"] for lot in lots]))
    moved_balance = sum(lot["remaining"] for lot in lots if not lot["is_pending"])
    moved_pending = sum(lot["remaining"] for lot in lots if lot["is_pending"])
    moved_debt = source.debt
    if moved_debt:
        for account_id, points in ((source.id, moved_debt), (target.id, -moved_debt)):
            entries.append(
                JournalEntry(
                    account=account_id,
                    lot=None,
                    kind="transfer",
                    points=points,
                    actor=actor,
                    reason=reason or "debt moved with the card",
                    created_at=now,
                )
            )
    if entries:
        await JournalEntry.insert(*entries)
    moved_spend = source.lifetime_spend_kopecks
    await Account.update(
        {
            Account.balance: Account.balance - moved_balance,
            Account.pending: Account.pending - moved_pending,
            Account.debt: Account.debt - moved_debt,
            Account.lifetime_spend_kopecks: Account.lifetime_spend_kopecks - moved_spend,
            Account.next_lot_event_at: None,
        }
    ).where(Account.id == source.id)
    next_event = await _next_lot_event(target.id)
    await Account.update(
        {
            Account.balance: Account.balance + moved_balance,
            Account.pending: Account.pending + moved_pending,
            Account.debt: Account.debt + moved_debt,
            Account.lifetime_spend_kopecks: Account.lifetime_spend_kopecks + moved_spend,
            Account.next_lot_event_at: next_event,
        }
    ).where(Account.id == target.id)
    target.balance += moved_balance
    target.pending += moved_pending
    target.debt += moved_debt
    target.lifetime_spend_kopecks += moved_spend
    target.next_lot_event_at = next_event
    repaid = min(target.debt, target.balance)
    if repaid:
        await debit(target, repaid, kind="repay", now=now, actor=actor, reason="repays points owed")
        await JournalEntry.insert(
            JournalEntry(
                account=target.id,
                lot=None,
                kind="repay",
                points=repaid,
                actor=actor,
                reason="debt repaid",
                created_at=now,
            )
        )
        await Account.update({Account.debt: Account.debt - repaid}).where(Account.id == target.id)
        target.debt -= repaid
    return Merged(
        lots=len(lots),
        balance=moved_balance,
        pending=moved_pending,
        debt=moved_debt,
        debt_repaid=repaid,
        lifetime_spend_kopecks=moved_spend,
    )
