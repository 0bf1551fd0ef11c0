"""The points ledger: lots, journal entries and the account's running totals.

One door: every change to an account's points goes through ``account()`` (or
``accounts()`` for two), inside the caller's ``db.write_transaction()``::

    async with ledger.account(account_id, now=now) as acct:
        await acct.spend(10, receipt_id=..., actor=..., reason=...)
        await acct.earn(25, ...)

A unit of work opened inside another one on the same account (a subscriber of the till's
"receipt posted" event paying a bonus) gets the same book: the outer block still holds
the lock, and one book means the totals are written once, with every movement in them.

Entering locks the account row (``queries.LOCK_ACCOUNT_ROW``) and settles its clock (``expire``);
the movements record lots and journal entries and keep the totals in memory; leaving
writes the totals once. Set-based crediting of many accounts at once (month-end cashback)
is ``wallet.ledger.bulk``. Nothing outside this package writes ``lot``, ``journal_entry``
or ``account``.

Rules kept here, whatever the caller:
- points come in lots; each lot has its own expiry and, if pending, a maturity time;
- spending takes available lots in order of expiry (oldest-expiring first), never pending
  or expired ones, and never more than the balance;
- every change to a lot's ``remaining`` has a journal entry naming the lot, so a lot's
  entries sum to its remaining, and the account's entries sum to balance + pending - debt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime

import msgspec

from wallet import clock, db
from wallet import settings as settings_module
from wallet.errors import AccountNotFound, InsufficientPoints, InvalidInput
from wallet.ledger import queries
from wallet.ledger.events import PointsChanged, TierChanged
from wallet.ledger.reads import redeemed_from, tier_standings
from wallet.ledger.schemas import (
    AccountState,
    LotTaken,
)
from wallet.ledger.tables import Account, JournalEntry, Lot
from wallet.platform import events
from wallet.platform import service as platform
from wallet.rules import service as rules_service

# The books open in this task's unit of work, by account id (see ``accounts``).
_open_books: ContextVar[dict[int, Book] | None] = ContextVar("open_books", default=None)

JournalRow = tuple[int, int | None, str, int, int | None, str, str, datetime]


async def open_account(*, now: datetime, join_store_id: int | None = None) -> int:
    """A new account with nothing on it; ``join_store_id``: the store its shopper joined at."""
    rows = await Account.insert(Account(created_at=now, join_store_id=join_store_id)).returning(
        Account.id
    )
    return int(rows[0]["id"])


async def _lock(account_id: int) -> AccountState:
    rows = await db.fetch(queries.LOCK_ACCOUNT_ROW, account_id)
    if not rows:
        raise AccountNotFound(f"no account {account_id}", {"account_id": account_id})
    return AccountState(**rows[0])


async def lock_account(account_id: int) -> None:
    """Wait for the account's other writers and hold them off until the transaction ends,
    without touching its points (offers open a month's goal under it)."""
    await _lock(account_id)


@asynccontextmanager
async def account(account_id: int, *, now: datetime) -> AsyncIterator[Book]:
    """The account locked, its clock settled, for the movements of one unit of work; its
    totals are written once on leaving (not at all when the block raises: the caller's
    transaction rolls back)."""
    async with accounts(account_id, now=now) as (book,):
        yield book


@asynccontextmanager
async def accounts(*account_ids: int, now: datetime) -> AsyncIterator[tuple[Book, ...]]:
    """``account`` for several accounts, locked in id order so that two units of work on the
    same pair in opposite directions wait for each other instead of deadlocking."""
    already = _open_books.get()
    books: dict[int, Book] = dict(already or {})
    opened: list[Book] = []
    for account_id in sorted(set(account_ids)):
        if account_id in books:
            continue
        book = Book(await _lock(account_id), now=now)
        await book.expire()
        books[account_id] = book
        opened.append(book)
    token = _open_books.set(books)
    try:
        yield tuple(books[account_id] for account_id in account_ids)
    finally:
        _open_books.reset(token)
    # Only the block that opened a book writes it: an inner block's movements are in the
    # outer one's totals.
    for book in opened:
        await book._close()


class Book:
    """One locked account inside a unit of work: its movements and its totals so far."""

    def __init__(self, state: AccountState, *, now: datetime) -> None:
        self._state = state
        self._saved = msgspec.structs.astuple(state)
        self._clock_moved = False
        self._spend_by_month: dict[str, int] = {}
        self.now = now

    @property
    def id(self) -> int:
        return self._state.id

    @property
    def balance(self) -> int:
        return self._state.balance

    @property
    def pending(self) -> int:
        return self._state.pending

    @property
    def debt(self) -> int:
        return self._state.debt

    @property
    def lifetime_spend_kopecks(self) -> int:
        return self._state.lifetime_spend_kopecks

    async def _close(self) -> None:
        state = self._state
        # Only a unit that moved spend can move the tier: the tier before is read with the
        # months as they were, the tier after with this unit's spend added.
        spend_moved = bool(self._spend_by_month) or state.lifetime_spend_kopecks != self._saved[4]
        tier_before = await self._tier(self._saved[4]) if spend_moved else None
        totals = (
            state.balance,
            state.pending,
            state.debt,
            state.lifetime_spend_kopecks,
            state.next_lot_event_at,
            state.id,
        )
        months = [(m, k) for m, k in sorted(self._spend_by_month.items()) if k]
        changed = msgspec.structs.astuple(state) != self._saved
        if changed and len(months) == 1 and not db.is_sqlite():
            # A receipt: its totals and its month's spend in one round trip.
            ((month, kopecks),) = months
            await db.fetch(
                queries.SAVE_TOTALS_AND_SPEND, *totals, f"{state.id}:{month}", month, kopecks
            )
        else:
            if changed:
                await db.fetch(queries.SAVE_TOTALS, *totals)
            if months:
                await _add_spend_months(state.id, months)
        if tier_before is not None:
            tier_after = await self._tier(state.lifetime_spend_kopecks)
            if tier_after != tier_before:
                await events.publish(
                    TierChanged(
                        account_id=state.id,
                        tier_before=tier_before,
                        tier=tier_after,
                        lifetime_spend_kopecks=state.lifetime_spend_kopecks,
                        now=self.now,
                    )
                )
        if self._clock_moved:
            # Points burnt or matured: the passes show the balance, whoever settled it.
            await platform.enqueue_pass_update(state.id)
        _, balance, pending, debt, *_rest = self._saved
        if (balance, pending, debt) != (state.balance, state.pending, state.debt):
            await events.publish(
                PointsChanged(
                    account_id=state.id,
                    balance=state.balance,
                    pending=state.pending,
                    debt=state.debt,
                    balance_change=state.balance - balance,
                    pending_change=state.pending - pending,
                    debt_change=state.debt - debt,
                    now=self.now,
                )
            )

    async def _tier(self, lifetime_spend_kopecks: int) -> str:
        """The account's tier name for this lifetime spend and the spend months as the
        database holds them now."""
        found = await tier_standings({self.id: lifetime_spend_kopecks}, now=self.now)
        return found[self.id].tier.name

    async def expire(self) -> None:
        """Expire the account's lots past their date and release matured pending lots.

        Runs on entering the unit of work, so a lot that expired a minute ago is never
        spent even if the sweep (``expire_due``) has not run yet.
        """
        state, now = self._state, self.now
        if state.next_lot_event_at is None or state.next_lot_event_at > now:
            return
        due = await Lot.select(
            Lot.id, Lot.remaining, Lot.is_pending, Lot.available_from, Lot.expires_at
        ).where(
            (Lot.account == state.id)
            & (Lot.remaining > 0)
            & ((Lot.expires_at <= now) | ((Lot.is_pending == True) & (Lot.available_from <= now)))  # noqa: E712
        )
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
                await Lot.update({Lot.remaining: 0, Lot.is_pending: False}).where(
                    Lot.id == lot["id"]
                )
                if lot["is_pending"]:
                    state.pending -= lot["remaining"]
                else:
                    state.balance -= lot["remaining"]
            else:
                await Lot.update({Lot.is_pending: False}).where(Lot.id == lot["id"])
                state.pending -= lot["remaining"]
                state.balance += lot["remaining"]
        if entries:
            await JournalEntry.insert(*entries)
        state.next_lot_event_at = await _next_lot_event(state.id)
        self._clock_moved = self._clock_moved or bool(due)

    async def earn(
        self,
        points: int,
        *,
        source: str,
        earned_at: datetime,
        available_from: datetime,
        expires_at: datetime,
        receipt_id: int | None = None,
        actor: str = "system",
        reason: str = "",
        kind: str = "earn",
        promotion_id: int | None = None,
        parts: list[tuple[int | None, int]] | None = None,
    ) -> int:
        """A new lot of ``points``; a debt left by an earlier return is repaid from it first.

        ``parts`` splits the lot's earn entry by who gave the points (promotion id, or None
        for the tier's rate): one lot per receipt, one journal entry per promotion.

        A lot dated in the past may already be expired (an imported receipt): it is created
        and expired at once, so the journal still shows what was earned and when it burned.
        """
        state, now = self._state, self.now
        pending = available_from > now
        repaid = min(state.debt, points)
        kept = points - repaid
        lot = (state.id, points, kept, earned_at, available_from, expires_at, pending, source)
        split = [(pid, n) for pid, n in parts or [(promotion_id, points)] if n]
        assert sum(n for _, n in split) == points, "the parts must add up to the points"
        # (on the new lot?, kind, points, reason, promotion)
        planned: list[tuple[bool, str, int, str, int | None]] = [
            (True, kind, n, reason, pid) for pid, n in split
        ]
        if repaid:
            planned.append((True, "repay", -repaid, "repays points owed after a return", None))
            planned.append((False, "repay", repaid, "debt repaid", None))
        if planned and not db.is_sqlite():
            rows = await db.fetch(
                queries.insert_lot_with_journal(tuple(own for own, *_ in planned)),
                *lot,
                receipt_id,
                *[
                    value
                    for _, entry_kind, n, why, pid in planned
                    for value in (state.id, entry_kind, n, receipt_id, actor, why, now, pid)
                ],
            )
            lot_id = int(rows[0]["id"])
        else:
            rows = await db.fetch(queries.INSERT_LOT, *lot, receipt_id)
            lot_id = int(rows[0]["id"])
            entries: list[JournalRow] = [
                (state.id, lot_id if own else None, entry_kind, n, receipt_id, actor, why, now)
                for own, entry_kind, n, why, _ in planned
            ]
            await _journal(entries, promotion_ids=[pid for *_, pid in planned])
        event_at = available_from if pending else expires_at
        if state.next_lot_event_at is None or event_at < state.next_lot_event_at:
            state.next_lot_event_at = event_at
        if pending:
            state.pending += kept
        else:
            state.balance += kept
        state.debt -= repaid
        if expires_at <= now:
            await self.expire()
        return lot_id

    async def spend(
        self,
        points: int,
        *,
        kind: str = "redeem",
        receipt_id: int | None = None,
        actor: str = "system",
        reason: str = "",
    ) -> list[LotTaken]:
        """Take ``points`` from the available lots, oldest-expiring first."""
        state = self._state
        if points <= 0:
            return []
        if points > state.balance:
            raise InsufficientPoints(
                f"account {state.id} has {state.balance} points available, {points} were asked",
                {"available": state.balance, "requested": points},
            )
        taken = await self._take(
            points, kind=kind, receipt_id=receipt_id, actor=actor, reason=reason
        )
        state.balance -= points
        return taken

    async def _take(
        self,
        points: int,
        *,
        kind: str,
        receipt_id: int | None,
        actor: str,
        reason: str,
        promotion_id: int | None = None,
    ) -> list[LotTaken]:
        state, now = self._state, self.now
        lots = await db.fetch(queries.SPENDABLE_LOTS, state.id, False, now)
        left = points
        taken: list[LotTaken] = []
        for lot in lots:
            if left == 0:
                break
            take = min(left, lot["remaining"])
            await db.fetch(queries.TAKE_FROM_LOT, take, lot["id"])
            taken.append(LotTaken(lot_id=lot["id"], points=take, expires_at=lot["expires_at"]))
            left -= take
        if left:
            # The balance said there was enough; the lots disagree. Refuse rather than guess.
            raise RuntimeError(
                f"ledger of account {state.id} is inconsistent: balance {state.balance} but "
                f"lots hold {points - left}; run `wallet reconcile {state.id}`"
            )
        await _journal(
            [
                (state.id, item.lot_id, kind, -item.points, receipt_id, actor, reason, now)
                for item in taken
            ],
            promotion_id=promotion_id,
        )
        return taken

    def add_spend(self, kopecks: int, *, at: datetime | None = None) -> None:
        """Count money paid (negative: given back) towards the lifetime spend, never below 0,
        and towards the month of ``at`` (the sale's time, also for a return)."""
        state = self._state
        state.lifetime_spend_kopecks = max(0, state.lifetime_spend_kopecks + kopecks)
        month = spend_month(at or self.now)
        self._spend_by_month[month] = self._spend_by_month.get(month, 0) + kopecks

    async def take_back(
        self,
        points: int,
        *,
        from_lot: int | None,
        receipt_id: int | None,
        actor: str = "system",
        reason: str = "",
        promotion_id: int | None = None,
    ) -> dict[str, int]:
        """Take back points a receipt earned, because its goods came back.

        First from the lot the receipt created (whatever is left of it, pending or not),
        then, if the shopper already spent those points, from the available balance
        oldest-first; what is still missing becomes ``debt``, repaid from the next points
        earned. Nothing is created or lost: the journal records each part.
        """
        state, now = self._state, self.now
        from_own = from_pending = from_balance = 0
        left = points
        if from_lot is not None and left:
            lot = await Lot.select(Lot.remaining, Lot.is_pending).where(Lot.id == from_lot).first()
            if lot is not None and lot["remaining"] > 0:
                own = min(left, lot["remaining"])
                await Lot.update({Lot.remaining: Lot.remaining - own}).where(Lot.id == from_lot)
                await _journal(
                    [(state.id, from_lot, "return", -own, receipt_id, actor, reason, now)],
                    promotion_id=promotion_id,
                )
                if lot["is_pending"]:
                    from_pending = own
                else:
                    from_own = own
                left -= own
        if left and state.balance - from_own > 0:
            from_balance = min(left, state.balance - from_own)
            await self._take(
                from_balance,
                kind="return",
                receipt_id=receipt_id,
                actor=actor,
                reason=reason,
                promotion_id=promotion_id,
            )
            left -= from_balance
        debt = left
        if debt:
            await _journal(
                [
                    (
                        state.id,
                        None,
                        "debt",
                        -debt,
                        receipt_id,
                        actor,
                        "earned points were already spent; owed from future points",
                        now,
                    )
                ],
                promotion_id=promotion_id,
            )
        state.balance -= from_own + from_balance
        state.pending -= from_pending
        state.debt += debt
        return {
            "from_receipt_lot": from_own + from_pending,
            "from_balance": from_balance,
            "owed": debt,
        }

    async def refund(
        self,
        points: int,
        *,
        receipt_id: int,
        refunded_before: int,
        actor: str,
        reason: str,
    ) -> None:
        """Give back ``points`` the receipt redeemed (after ``refunded_before`` given back
        already), lot by lot in the order they were taken, each keeping the expiry of the
        lot it came from."""
        taken = await redeemed_from(receipt_id)
        start, end = refunded_before, refunded_before + points
        position = 0
        by_expiry: dict[datetime, int] = {}
        for item in taken:
            lo, hi = position, position + item.points
            overlap = max(0, min(hi, end) - max(lo, start))
            if overlap:
                by_expiry[item.expires_at] = by_expiry.get(item.expires_at, 0) + overlap
            position = hi
        for expires_at, amount in sorted(by_expiry.items()):
            await self.earn(
                amount,
                kind="refund",
                source="return",
                earned_at=self.now,
                available_from=self.now,
                expires_at=expires_at,
                receipt_id=receipt_id,
                actor=actor,
                reason=reason,
            )

    async def adjust(self, points: int, *, expires_at: datetime, actor: str, reason: str) -> None:
        """A manual credit (a lot valid until ``expires_at``) or debit by support."""
        if points > 0:
            await self.earn(
                points,
                kind="adjust",
                source="adjustment",
                earned_at=self.now,
                available_from=self.now,
                expires_at=expires_at,
                actor=actor,
                reason=reason,
            )
        else:
            await self.spend(-points, kind="adjust", actor=actor, reason=reason)

    async def merge_into(self, target: Book, *, actor: str, reason: str = "") -> Merged:
        """Move everything this account holds onto ``target`` (an anonymous plastic card
        joining a shopper's account): its live lots, its debt and its lifetime spend.

        The lots themselves move (same id, remaining, expiry, pending state and receipt),
        so a later return of a receipt posted on the plastic card still finds the lot it
        earned. Each moved lot gets a ``transfer`` entry of ``-remaining`` on this account
        and ``+remaining`` on the target, so both journals still sum to their lots and
        totals. Debt moves the same way and is then repaid from the target's available
        points, as it would have been had the cards shared an account from the start.
        """
        source, into, now = self._state, target._state, self.now
        if source.id == into.id:
            raise InvalidInput("an account cannot be merged into itself", {"account_id": source.id})
        lots = (
            await Lot.select(Lot.id, Lot.remaining, Lot.is_pending, Lot.receipt_id)
            .where((Lot.account == source.id) & (Lot.remaining > 0))
            .order_by(Lot.id)
        )
        entries: list[JournalRow] = []
        for lot in lots:
            for account_id, points in ((source.id, -lot["remaining"]), (into.id, lot["remaining"])):
                entries.append(
                    (
                        account_id,
                        lot["id"],
                        "transfer",
                        points,
                        lot["receipt_id"],
                        actor,
                        reason,
                        now,
                    )
                )
        if lots:
            await Lot.update({Lot.account: into.id}).where(
                Lot.id.is_in([lot["id"] for lot in lots])
            )
        moved_balance = sum(lot["remaining"] for lot in lots if not lot["is_pending"])
        moved_pending = sum(lot["remaining"] for lot in lots if lot["is_pending"])
        moved_debt = source.debt
        if moved_debt:
            why = reason or "debt moved with the card"
            entries.append((source.id, None, "transfer", moved_debt, None, actor, why, now))
            entries.append((into.id, None, "transfer", -moved_debt, None, actor, why, now))
        await _journal(entries)
        moved_spend = source.lifetime_spend_kopecks
        source.balance -= moved_balance
        source.pending -= moved_pending
        source.debt -= moved_debt
        source.lifetime_spend_kopecks -= moved_spend
        source.next_lot_event_at = None
        into.balance += moved_balance
        into.pending += moved_pending
        into.debt += moved_debt
        into.lifetime_spend_kopecks += moved_spend
        await _move_spend_months(source.id, into.id)
        into.next_lot_event_at = await _next_lot_event(into.id)
        repaid = min(into.debt, into.balance)
        if repaid:
            await target.spend(repaid, kind="repay", actor=actor, reason="repays points owed")
            await _journal([(into.id, None, "repay", repaid, None, actor, "debt repaid", now)])
            into.debt -= repaid
        return Merged(
            lots=len(lots),
            balance=moved_balance,
            pending=moved_pending,
            debt=moved_debt,
            debt_repaid=repaid,
            lifetime_spend_kopecks=moved_spend,
        )


class Merged(msgspec.Struct, frozen=True):
    """What moved from one account to another."""

    lots: int
    balance: int
    pending: int
    debt: int
    debt_repaid: int
    lifetime_spend_kopecks: int


async def _journal(
    entries: list[JournalRow],
    *,
    promotion_id: int | None = None,
    promotion_ids: list[int | None] | None = None,
) -> None:
    """Insert journal entries (account, lot, kind, points, receipt, actor, reason, at) in
    one statement, each naming the promotion that moved its points (``promotion_id`` for
    all, or ``promotion_ids`` one per entry)."""
    if not entries:
        return
    ids = promotion_ids or [promotion_id] * len(entries)
    await db.fetch(
        queries.insert_journal(len(entries)),
        *[value for entry, pid in zip(entries, ids, strict=True) for value in (*entry, pid)],
    )


def spend_month(moment: datetime) -> str:
    """The month a spend counts in: "YYYY-MM" in the program's time zone."""
    return clock.local_date(moment, settings_module.get().tz).strftime("%Y-%m")


async def _add_spend_months(account_id: int, months: Sequence[tuple[str, int]]) -> None:
    """Adds spend to the account's months: ``months`` are (month, kopecks), sorted by
    month, none of them 0."""
    for month, kopecks in months:
        await db.fetch(
            queries.ADD_SPEND_MONTH,
            f"{account_id}:{month}",
            account_id,
            month,
            kopecks,
        )


async def _move_spend_months(source_id: int, target_id: int) -> None:
    rows = await db.fetch(queries.SPEND_MONTHS_OF, source_id)
    moved = sorted((str(row["month"]), int(row["spent_kopecks"])) for row in rows)
    await _add_spend_months(target_id, [(month, kopecks) for month, kopecks in moved if kopecks])
    await db.fetch(queries.DELETE_SPEND_MONTHS, source_id)


async def _next_lot_event(account_id: int) -> datetime | None:
    rows = await db.fetch(queries.NEXT_LOT_EVENT, account_id)
    return rows[0]["next_at"] if rows else None


class Adjusted(msgspec.Struct, frozen=True):
    balance: int
    expires_at: datetime | None


async def adjust(
    account_id: int, points: int, *, reason: str, actor: str, now: datetime
) -> Adjusted:
    """A manual credit or debit by support, audited; runs in the caller's transaction."""
    if points == 0:
        raise InvalidInput("an adjustment of 0 points changes nothing", {"points": 0})
    rules = await rules_service.rules_at(now)
    expires_at = clock.add_months(now, rules.validity_months)
    async with account(account_id, now=now) as acct:
        await acct.adjust(points, expires_at=expires_at, actor=actor, reason=reason)
    await platform.audit(
        actor=actor,
        action="points.adjust",
        subject=f"account:{account_id}",
        details={"points": points, "reason": reason},
    )
    await platform.enqueue_pass_update(account_id)
    return Adjusted(balance=acct.balance, expires_at=expires_at if points > 0 else None)


async def merge_accounts(
    source_account_id: int, target_account_id: int, *, now: datetime, actor: str, reason: str = ""
) -> Merged:
    """``Book.merge_into`` as one unit of work over both accounts, in the caller's
    transaction."""
    if source_account_id == target_account_id:
        raise InvalidInput(
            "an account cannot be merged into itself", {"account_id": source_account_id}
        )
    async with accounts(source_account_id, target_account_id, now=now) as (source, target):
        return await source.merge_into(target, actor=actor, reason=reason)


async def expire_due(*, now: datetime) -> int:
    """Settle the clock of every account with a lot due (expire lots past their date,
    release pending lots that matured, queue the account's pass update), each account in
    its own short transaction. The one expiry: the worker runs it every five minutes and
    with the daily reminders, ``wallet expire`` by hand. Returns how many accounts changed."""
    rows = await db.fetch(queries.ACCOUNTS_DUE, now)
    for row in rows:
        async with db.write_transaction(), account(row["id"], now=now):
            pass
    return len(rows)
