"""What a till does: identify a card, quote a receipt, post it, post a return.

Every write is idempotent on the till's own id (unique per store): the same id with the
same body returns the first reply and changes nothing; with a different body it is 409.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wallet import clock, codes, db
from wallet import settings as settings_module
from wallet.errors import (
    InvalidInput,
    ReceiptConflict,
    ReceiptNotFound,
    ReturnExceedsReceipt,
)
from wallet.ledger import service as ledger
from wallet.ledger.schemas import AccountState
from wallet.members import service as members
from wallet.offers import service as offers
from wallet.platform import service as platform
from wallet.receipts.pricing import price
from wallet.receipts.schemas import (
    CardStatusOut,
    LineIn,
    LineResult,
    QuoteIn,
    QuoteOut,
    ReceiptIn,
    ReceiptOut,
    ReturnIn,
    ReturnLineIn,
    ReturnLineResult,
    ReturnOut,
    Reversal,
)
from wallet.receipts.tables import Receipt, ReceiptLine, ReceiptReturn
from wallet.rules import service as rules_service


def _check_time(moment: datetime, *, now: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput(
            f"{what} has no UTC offset; send e.g. 2026-01-31T23:30:00+03:00",
            {"field": "occurred_at"},
        )
    cfg = settings_module.get()
    moment = clock.to_utc(moment)
    if moment > now + timedelta(seconds=cfg.receipt_max_future_seconds):
        raise InvalidInput(
            f"{what} {moment.isoformat()} is in the future; check the till's clock",
            {"field": "occurred_at", "server_time": now.isoformat()},
        )
    if moment < now - timedelta(days=cfg.receipt_max_age_days):
        raise InvalidInput(
            f"{what} {moment.isoformat()} is older than {cfg.receipt_max_age_days} days, "
            "the acceptance window (WALLET_RECEIPT_MAX_AGE_DAYS)",
            {"field": "occurred_at", "max_age_days": cfg.receipt_max_age_days},
        )
    return moment


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def identify(number: str, *, now: datetime) -> CardStatusOut:
    card = await members.find_card(number)
    summary = await ledger.summary(card.account_id, now=now)
    rules = await rules_service.rules_at(now)
    return CardStatusOut(
        card_number=card.number,
        status=card.status,
        account_id=card.account_id,
        balance=summary.balance,
        pending=summary.pending,
        spendable_now=summary.balance if card.status == "active" else 0,
        tier=rules.tier_for(summary.lifetime_spend_kopecks).name,
    )


async def quote(data: QuoteIn, *, now: datetime) -> QuoteOut:
    card = await members.usable_card(data.card_number)
    occurred_at = (
        _check_time(data.occurred_at, now=now, what="occurred_at") if data.occurred_at else now
    )
    summary = await ledger.summary(card.account_id, now=now)
    rules = await rules_service.rules_at(occurred_at)
    pricing = price(
        data.lines,
        rules=rules,
        lifetime_spend_kopecks=summary.lifetime_spend_kopecks,
        balance=summary.balance,
        redeem_points=data.redeem_points,
    )
    return QuoteOut(
        card_number=card.number,
        balance=summary.balance,
        max_redeem_points=pricing.cap.cap,
        redeemed_points=pricing.redeemed_points,
        redeemed_kopecks=pricing.redeemed_kopecks,
        paid_kopecks=pricing.paid_kopecks,
        earned_points=pricing.earned_points,
        lines=pricing.lines,
        explanation=pricing.explanation,
    )


@db.retry_on_deadlock
async def post_receipt(data: ReceiptIn, *, store_id: int, actor: str, now: datetime) -> ReceiptOut:
    occurred_at = _check_time(data.occurred_at, now=now, what="occurred_at")
    request_hash = codes.fingerprint(data)
    store_key = f"{store_id}:{data.receipt_id}"
    card = await members.find_card(data.card_number)
    async with db.write_transaction():
        state = await ledger.lock_account(card.account_id)
        earlier = await _earlier(Receipt, store_key, request_hash, data.receipt_id)
        if earlier is not None:
            return msgspec.convert(earlier, ReceiptOut)
        members.check_usable(card)
        state = await ledger.settle_clock(state, now=now)
        rules = await rules_service.rules_at(occurred_at)
        pricing = price(
            data.lines,
            rules=rules,
            lifetime_spend_kopecks=state.lifetime_spend_kopecks,
            balance=state.balance,
            redeem_points=data.redeem_points,
        )
        inserted = await db.fetch(
            "INSERT INTO receipt (store, external_id, store_key, card, account_id, occurred_at, "
            "posted_at, request_hash, total_kopecks, paid_kopecks, redeemed_points, "
            "earned_points, earned_lot_id, refunded_points, rules_id, result) VALUES "
            "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, 0, $13, $14) RETURNING id",
            store_id,
            data.receipt_id,
            store_key,
            card.id,
            card.account_id,
            occurred_at,
            now,
            request_hash,
            pricing.total_kopecks,
            pricing.paid_kopecks,
            pricing.redeemed_points,
            pricing.earned_points,
            rules.id,
            {},
        )
        receipt_pk = int(inserted[0]["id"])
        await _insert_lines(receipt_pk, data.lines, pricing.lines)
        reason = f"receipt {data.receipt_id}"
        await ledger.debit(
            state,
            pricing.redeemed_points,
            kind="redeem",
            now=now,
            receipt_id=receipt_pk,
            actor=actor,
            reason=reason,
        )
        available_from = expires_at = None
        lot_id = None
        if pricing.earned_points:
            available_from = occurred_at + timedelta(days=rules.pending_days)
            expires_at = clock.add_months(occurred_at, rules.validity_months)
            lot_id = await ledger.credit(
                state,
                pricing.earned_points,
                kind="earn",
                source="receipt",
                earned_at=occurred_at,
                available_from=available_from,
                expires_at=expires_at,
                now=now,
                receipt_id=receipt_pk,
                actor=actor,
                reason=reason,
            )
        await ledger.add_spend(state, pricing.paid_kopecks)
        await offers.on_receipt(
            account_id=card.account_id,
            card_id=card.id,
            receipt_pk=receipt_pk,
            occurred_at=occurred_at,
            lines=[(result.category, result.paid_kopecks) for result in pricing.lines],
            now=now,
        )
        reply = ReceiptOut(
            receipt_id=data.receipt_id,
            card_number=card.number,
            account_id=card.account_id,
            occurred_at=occurred_at,
            total_kopecks=pricing.total_kopecks,
            redeemed_points=pricing.redeemed_points,
            redeemed_kopecks=pricing.redeemed_kopecks,
            paid_kopecks=pricing.paid_kopecks,
            earned_points=pricing.earned_points,
            earned_available_from=available_from,
            earned_expires_at=expires_at,
            balance_after=state.balance,
            pending_after=state.pending,
            lines=pricing.lines,
            explanation=pricing.explanation,
        )
        await db.fetch(
            "UPDATE receipt SET result = $1, earned_lot_id = $2 WHERE id = $3",
            msgspec.to_builtins(reply),
            lot_id,
            receipt_pk,
        )
        await platform.enqueue_pass_update(card.account_id)
    return reply


async def _earlier(
    table: type[Receipt] | type[ReceiptReturn], store_key: str, request_hash: str, external_id: str
) -> Any:
    rows = await db.fetch(
        f"SELECT request_hash, result FROM {table._meta.tablename} WHERE store_key = $1",
        store_key,
    )
    if not rows:
        return None
    row = rows[0]
    if row["request_hash"] != request_hash:
        what = "receipt" if table is Receipt else "return"
        raise ReceiptConflict(
            f"{what} {external_id} was already posted at this store with different contents; "
            f"a correction is a return plus a new {what} id",
            {"receipt_id": external_id},
        )
    return _loads(row["result"])


async def _insert_lines(receipt_pk: int, lines: list[LineIn], results: list[LineResult]) -> None:
    width = 8
    groups = ", ".join(
        "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ", 0, 0, 0)"
        for i in range(len(lines))
    )
    await db.fetch(
        "INSERT INTO receipt_line (receipt, line_no, sku, category, quantity, amount_kopecks, "
        "redeemed_kopecks, earned_points, returned_kopecks, returned_redeemed_kopecks, "
        f"returned_earned_points) VALUES {groups}",
        *[
            value
            for line, result in zip(lines, results, strict=True)
            for value in (
                receipt_pk,
                result.line,
                result.sku,
                result.category,
                float(line.quantity),
                result.amount,
                result.redeemed_kopecks,
                result.earned_points,
            )
        ],
    )


@db.retry_on_deadlock
async def post_return(
    receipt_id: str, data: ReturnIn, *, store_id: int, actor: str, now: datetime
) -> ReturnOut:
    """Reverse what the returned lines earned and give back what they redeemed.

    Each line keeps cumulative totals of what was returned, so returning it in parts never
    reverses or refunds more than the line had, and returning all of it reverses exactly
    what it earned. Refunded points go back as new lots with the expiry of the lots they
    were taken from.
    """
    occurred_at = _check_time(data.occurred_at, now=now, what="occurred_at")
    request_hash = codes.fingerprint(data)
    receipt = await Receipt.select().where(Receipt.store_key == f"{store_id}:{receipt_id}").first()
    if receipt is None:
        raise ReceiptNotFound(
            f"no receipt {receipt_id} at this store; a return goes to the store of the sale",
            {"receipt_id": receipt_id},
        )
    store_key = f"{store_id}:return:{data.return_id}"
    async with db.write_transaction():
        # The card may have moved since the sale (a plastic card a shopper activated took
        # its lots to their account): reverse on the account the card is on now.
        account_id = (await members.find_card_by_id(receipt["card"])).account_id
        state = await ledger.lock_account(account_id)
        moved_to = (await members.find_card_by_id(receipt["card"])).account_id
        if moved_to != account_id:  # activated while this return waited for the lock
            state = await ledger.lock_account(moved_to)
        earlier = await _earlier(ReceiptReturn, store_key, request_hash, data.return_id)
        if earlier is not None:
            return msgspec.convert(earlier, ReturnOut)
        state = await ledger.settle_clock(state, now=now)
        receipt = await Receipt.select().where(Receipt.id == receipt["id"]).first()
        assert receipt is not None
        lines = {
            row["line_no"]: row
            for row in await ReceiptLine.select().where(ReceiptLine.receipt == receipt["id"])
        }
        wanted = data.lines or [ReturnLineIn(line=line_no) for line_no in sorted(lines)]
        seen: set[int] = set()
        line_results: list[ReturnLineResult] = []
        reverse_points = returned_total = money_total = 0
        returned_redeemed_kopecks_total = 0
        for item in wanted:
            line = lines.get(item.line)
            if line is None or item.line in seen:
                raise InvalidInput(
                    f"receipt {receipt_id} has no line {item.line}"
                    if line is None
                    else f"line {item.line} is listed twice",
                    {"line": item.line, "lines_on_receipt": len(lines)},
                )
            seen.add(item.line)
            left = line["amount_kopecks"] - line["returned_kopecks"]
            amount = left if item.amount is None else item.amount
            if left == 0 and data.lines is None:
                continue  # a whole-receipt return skips lines already returned
            if amount > left or amount == 0:
                raise ReturnExceedsReceipt(
                    f"line {item.line} of receipt {receipt_id} has {left} kopecks left to "
                    f"return; {amount} were asked",
                    {"line": item.line, "returnable_kopecks": left},
                )
            cumulative = line["returned_kopecks"] + amount
            full = line["amount_kopecks"]
            earned_target = line["earned_points"] * cumulative // full if full else 0
            redeemed_target = line["redeemed_kopecks"] * cumulative // full if full else 0
            reversed_now = earned_target - line["returned_earned_points"]
            redeemed_now = redeemed_target - line["returned_redeemed_kopecks"]
            await ReceiptLine.update(
                {
                    ReceiptLine.returned_kopecks: cumulative,
                    ReceiptLine.returned_earned_points: earned_target,
                    ReceiptLine.returned_redeemed_kopecks: redeemed_target,
                }
            ).where(ReceiptLine.id == line["id"])
            reverse_points += reversed_now
            returned_total += amount
            money_total += amount - redeemed_now
            returned_redeemed_kopecks_total += redeemed_now
            line_results.append(
                ReturnLineResult(
                    line=item.line,
                    returned_kopecks=amount,
                    refund_money_kopecks=amount - redeemed_now,
                    reversed_points=reversed_now,
                )
            )
        if not line_results:
            raise ReturnExceedsReceipt(
                f"receipt {receipt_id} has been returned in full already",
                {"receipt_id": receipt_id},
            )
        rules = await rules_service.rules_at(receipt["occurred_at"])
        totals = await db.raw(
            "SELECT COALESCE(SUM(returned_redeemed_kopecks), 0) AS kopecks "
            "FROM receipt_line WHERE receipt = {}",
            receipt["id"],
        )
        all_redeemed_kopecks = int(totals[0]["kopecks"])
        refund_target = all_redeemed_kopecks // rules.point_value_kopecks
        refund_points = min(refund_target, receipt["redeemed_points"]) - receipt["refunded_points"]
        reason = f"return {data.return_id} of receipt {receipt_id}"
        if refund_points > 0:
            await _refund(
                state,
                receipt,
                refund_points,
                now=now,
                actor=actor,
                reason=reason,
            )
            await Receipt.update(
                {Receipt.refunded_points: Receipt.refunded_points + refund_points}
            ).where(Receipt.id == receipt["id"])
        reversal = {"from_receipt_lot": 0, "from_balance": 0, "owed": 0}
        if reverse_points > 0:
            reversal = await ledger.take_back(
                state,
                reverse_points,
                from_lot=receipt["earned_lot_id"],
                now=now,
                receipt_id=receipt["id"],
                actor=actor,
                reason=reason,
            )
        await ledger.add_spend(state, -min(money_total, state.lifetime_spend_kopecks))
        await offers.on_return(
            account_id=state.id,
            card_id=receipt["card"],
            receipt_pk=receipt["id"],
            occurred_at=receipt["occurred_at"],
            lines=[(lines[r.line]["category"], r.refund_money_kopecks) for r in line_results],
            now=now,
        )
        card = await members.find_card_by_id(receipt["card"])
        reply = ReturnOut(
            return_id=data.return_id,
            receipt_id=receipt_id,
            card_number=card.number,
            returned_kopecks=returned_total,
            refund_money_kopecks=money_total,
            refunded_points=max(refund_points, 0),
            reversed_points=reverse_points,
            reversal=Reversal(**reversal),
            balance_after=state.balance,
            pending_after=state.pending,
            debt_after=state.debt,
            lines=line_results,
        )
        await ReceiptReturn.insert(
            ReceiptReturn(
                receipt=receipt["id"],
                external_id=data.return_id,
                store_key=store_key,
                occurred_at=occurred_at,
                request_hash=request_hash,
                result=msgspec.to_builtins(reply),
                created_at=now,
            )
        )
        await platform.enqueue_pass_update(state.id)
    return reply


async def _refund(
    state: AccountState,
    receipt: dict[str, Any],
    points: int,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> None:
    """Give back ``points`` the receipt redeemed, lot by lot in the order they were taken,
    each keeping the expiry of the lot it came from."""
    taken = await ledger.redeemed_from(receipt["id"])
    start = receipt["refunded_points"]
    end = start + points
    position = 0
    by_expiry: dict[datetime, int] = {}
    for item in taken:
        lo, hi = position, position + item.points
        overlap = max(0, min(hi, end) - max(lo, start))
        if overlap:
            by_expiry[item.expires_at] = by_expiry.get(item.expires_at, 0) + overlap
        position = hi
    for expires_at, amount in sorted(by_expiry.items()):
        await ledger.credit(
            state,
            amount,
            kind="refund",
            source="return",
            earned_at=now,
            available_from=now,
            expires_at=expires_at,
            now=now,
            receipt_id=receipt["id"],
            actor=actor,
            reason=reason,
        )


async def receipts_by_id(receipt_pks: set[int]) -> dict[int, dict[str, Any]]:
    """Receipt id, store and time for a set of internal ids (history pages)."""
    if not receipt_pks:
        return {}
    rows = await Receipt.select(
        Receipt.id,
        Receipt.external_id,
        Receipt.store,
        Receipt.store.name.as_alias("store_name"),
        Receipt.occurred_at,
        Receipt.total_kopecks,
    ).where(Receipt.id.is_in(list(receipt_pks)))
    return {row["id"]: row for row in rows}
