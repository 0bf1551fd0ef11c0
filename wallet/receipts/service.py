"""What a till does: identify a card, quote a receipt, post it, post a return.

Every write is idempotent on the till's own id (unique per store): the same id with the
same body returns the first reply and changes nothing; with a different body it is 409.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wallet import clock, codes, db, runtime
from wallet import settings as settings_module
from wallet.accounts import read as accounts
from wallet.errors import (
    InvalidInput,
    ReceiptConflict,
    ReceiptNotFound,
)
from wallet.ledger import reads as ledger_reads
from wallet.ledger import service as ledger
from wallet.members import service as members
from wallet.platform import events
from wallet.platform import service as platform
from wallet.promotions import coupons as coupon_codes
from wallet.promotions import engine
from wallet.promotions import manual as promotions_manual
from wallet.promotions import service as promotions
from wallet.receipts import queries
from wallet.receipts.events import ReceiptPosted, ReturnPosted
from wallet.receipts.pricing import Pricing, SoldLine, price, price_return
from wallet.receipts.schemas import (
    CardStatusOut,
    LineIn,
    LineResult,
    PromotionReturned,
    QuoteIn,
    QuoteOut,
    ReceiptIn,
    ReceiptOut,
    ReturnIn,
    ReturnOut,
    Reversal,
)
from wallet.receipts.tables import Receipt, ReceiptLine, ReceiptReturn
from wallet.rules import service as rules_service
from wallet.rules.schemas import Rules


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


_encoder = msgspec.json.Encoder()


def _encode(reply: ReceiptOut) -> str:
    return _encoder.encode(reply).decode()


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def identify(number: str, *, now: datetime) -> CardStatusOut:
    card = await members.find_card(number)
    shown = await accounts.read_one(card.account_id, now=now, languages=False)
    return CardStatusOut(
        card_number=card.number,
        status=card.status,
        account_id=card.account_id,
        balance=shown.balance,
        pending=shown.pending,
        spendable_now=shown.balance if card.status == "active" else 0,
        tier=shown.tier,
    )


async def quote(data: QuoteIn, *, store_id: int | None = None, now: datetime) -> QuoteOut:
    card = await members.usable_card(data.card_number)
    occurred_at = (
        _check_time(data.occurred_at, now=now, what="occurred_at") if data.occurred_at else now
    )
    summary = await ledger_reads.summary(card.account_id, now=now)
    rules = await rules_service.rules_at(occurred_at)
    standing = await ledger_reads.tier_standing(
        card.account_id, now=now, lifetime_spend_kopecks=summary.lifetime_spend_kopecks, rules=rules
    )
    pricing, _, _ = await _price(
        data.lines,
        rules=rules,
        store_id=store_id,
        account_id=card.account_id,
        coupons=data.coupons,
        # The spend the tier qualifies on (lifetime, or a window: rules.tier_basis).
        lifetime_spend_kopecks=standing.qualifying_spend_kopecks,
        balance=summary.balance,
        redeem_points=data.redeem_points,
        occurred_at=occurred_at,
        now=now,
        lock=False,
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
        discount_kopecks=pricing.discount_kopecks,
        promotions=pricing.promotions,
        not_applied=pricing.not_applied,
    )


async def _store_code(store_id: int | None) -> str:
    if store_id is None:
        return ""
    store_codes = runtime.current().caches.store_codes
    if store_id not in store_codes:  # codes never change
        rows = await db.fetch(queries.STORE_CODE, store_id)
        store_codes[store_id] = rows[0]["code"] if rows else ""
    return store_codes[store_id]


async def _price(
    lines: list[LineIn],
    *,
    rules: Rules,
    store_id: int | None,
    account_id: int,
    lifetime_spend_kopecks: int,
    balance: int,
    redeem_points: int,
    occurred_at: datetime,
    now: datetime,
    lock: bool,
    coupons: list[str] = [],  # noqa: B006 (never mutated)
) -> tuple[Pricing, engine.Catalogue, list[coupon_codes.Claimed]]:
    """``pricing.price`` with what it needs from the database: the active promotions, the
    shopper's segments and first purchase, the cashier's discounts checked against the
    store's limit, the promo codes the till sent (``lock``: claimed, each accepted once
    whatever other till sends it; the ones a promotion did not use given back), and the
    budgets of the promotions that would apply (``lock``: held to the end of the receipt's
    transaction; priced again if a budget is short)."""
    manual = None
    if store_id is not None:
        manual = await promotions_manual.manual_discounts(
            store_id,
            [
                (
                    line.amount,
                    line.manual_discount.kopecks if line.manual_discount else None,
                    line.manual_discount.percent_bp if line.manual_discount else None,
                    line.manual_discount.reason if line.manual_discount else None,
                )
                for line in lines
            ],
        )
    elif any(line.manual_discount for line in lines):
        raise promotions.ManualDiscountRefused("a manual discount needs a till bound to a store")
    catalogue = await promotions.catalogue()
    sorted_out = await coupon_codes.sort_out(
        coupons, account_id=account_id, at=occurred_at, claim=lock
    )
    shopper = None
    if catalogue.promotions:
        tier = rules.tier_for(lifetime_spend_kopecks)
        first = False
        if catalogue.needs_first_purchase:
            first = not await db.fetch(queries.ANY_RECEIPT, account_id)
        shopper = engine.Shopper(
            store_code=await _store_code(store_id),
            at=occurred_at,
            local=occurred_at.astimezone(settings_module.get().tz),
            tier=tier.name,
            tier_rate_bp=tier.earn_rate_bp,
            segments=await promotions.segments_of(catalogue.segment_ids, account_id, now),
            first_purchase=first,
            coupons=sorted_out.promotion_ids,
        )
    left: dict[int, engine.Left] = {}
    held: set[int] = set()
    while True:
        pricing = price(
            lines,
            rules=rules,
            lifetime_spend_kopecks=lifetime_spend_kopecks,
            balance=balance,
            redeem_points=redeem_points,
            promotions=catalogue,
            shopper=shopper,
            left=left,
            manual=manual,
        )
        wanted = {
            applied.promotion_id
            for applied in pricing.promotions
            if catalogue.by_id[applied.promotion_id].budgeted
        }
        if wanted <= held:
            return await _with_coupons(pricing, sorted_out), catalogue, sorted_out.claimed
        held |= wanted
        left = await promotions.budgets_left(catalogue, held, account_id, occurred_at, lock=lock)


async def _with_coupons(pricing: Pricing, found: coupon_codes.CouponResult) -> Pricing:
    """The refused codes among the reasons (each in place of the engine's "no coupon" for
    its promotion); claims a promotion did not use after all go back."""
    applied = {a.promotion_id for a in pricing.promotions}
    unused = [one for one in found.claimed if one.promotion_id not in applied]
    if unused:
        await coupon_codes.release(unused)
        found.claimed = [one for one in found.claimed if one.promotion_id in applied]
    if not found.refused:
        return pricing
    explained = {n.promotion_id for n in found.refused if n.promotion_id}
    kept = [
        n
        for n in pricing.not_applied
        if not (n.code == "no_coupon" and n.promotion_id in explained)
    ]
    return msgspec.structs.replace(pricing, not_applied=found.refused + kept)


def _fingerprint(data: ReceiptIn) -> str:
    """The body's hash, without ``coupons`` when there are none (as before they existed)."""
    body = msgspec.to_builtins(data)
    if not data.coupons:
        body.pop("coupons")
    # The spend code confirms the spend; it is not the receipt (a retry may carry a new one).
    body.pop("spend_code", None)
    return codes.sha256_hex(msgspec.json.encode(body))


@db.retry_on_deadlock
async def post_receipt(
    data: ReceiptIn,
    *,
    store_id: int,
    actor: str,
    now: datetime,
    confirm: Callable[[str], Awaitable[None]] | None = None,
) -> ReceiptOut:
    """``confirm`` runs in the receipt's transaction once it is known to be new (a spend
    code used up by it: ``spend_codes.use``), with the receipt's store key."""
    occurred_at = _check_time(data.occurred_at, now=now, what="occurred_at")
    request_hash = _fingerprint(data)
    store_key = f"{store_id}:{data.receipt_id}"
    card = await members.find_card(data.card_number)
    async with db.write_transaction(), ledger.account(card.account_id, now=now) as acct:
        found = await db.fetch(queries.EARLIER_RECEIPT, store_key)
        if found[0]["request_hash"] is not None:
            return msgspec.convert(_repeated(found[0], request_hash, data.receipt_id), ReceiptOut)
        receipt_pk = int(found[0]["next_id"])
        members.check_usable(card)
        if confirm is not None:
            await confirm(store_key)
        rules = await rules_service.rules_at(occurred_at)
        standing = await ledger_reads.tier_standing(
            acct.id, now=now, lifetime_spend_kopecks=acct.lifetime_spend_kopecks, rules=rules
        )
        pricing, catalogue, claimed = await _price(
            data.lines,
            rules=rules,
            store_id=store_id,
            account_id=card.account_id,
            coupons=data.coupons,
            # The spend the tier qualifies on (lifetime, or a window: rules.tier_basis).
            lifetime_spend_kopecks=standing.qualifying_spend_kopecks,
            balance=acct.balance,
            redeem_points=data.redeem_points,
            occurred_at=occurred_at,
            now=now,
            lock=True,
        )
        reason = f"receipt {data.receipt_id}"
        await acct.spend(pricing.redeemed_points, receipt_id=receipt_pk, actor=actor, reason=reason)
        available_from = expires_at = None
        lot_id = None
        if pricing.earned_points:
            available_from = occurred_at + timedelta(days=rules.pending_days)
            expires_at = clock.add_months(occurred_at, rules.validity_months)
            lot_id = await acct.earn(
                pricing.earned_points,
                parts=[(None, pricing.base_points)]
                + [(applied.promotion_id, applied.points) for applied in pricing.promotions],
                source="receipt",
                earned_at=occurred_at,
                available_from=available_from,
                expires_at=expires_at,
                receipt_id=receipt_pk,
                actor=actor,
                reason=reason,
            )
        applied = await _promotion_rows(
            receipt_pk,
            pricing,
            catalogue,
            lot_id,
            account_id=card.account_id,
            at=occurred_at,
            rules=rules,
        )
        await coupon_codes.record(
            claimed, receipt_pk=receipt_pk, account_id=card.account_id, now=now
        )
        await _audit_manual(data, pricing, store_id=store_id, actor=actor)
        acct.add_spend(pricing.paid_kopecks, at=occurred_at)
        await events.publish(
            ReceiptPosted(
                account_id=card.account_id,
                card_id=card.id,
                receipt_pk=receipt_pk,
                occurred_at=occurred_at,
                lines=[(result.category, result.paid_kopecks) for result in pricing.lines],
                paid_kopecks=pricing.paid_kopecks,
                earned_points=pricing.earned_points,
                now=now,
            )
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
            balance_after=acct.balance,
            pending_after=acct.pending,
            lines=pricing.lines,
            explanation=pricing.explanation,
            discount_kopecks=pricing.discount_kopecks,
            promotions=pricing.promotions,
            not_applied=pricing.not_applied,
        )
        arguments = [
            receipt_pk,
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
            lot_id,
            rules.id,
            # JSON text in one pass (no intermediate dicts): the till's retry gets it back.
            _encode(reply),
            *_line_values(receipt_pk, data.lines, pricing.lines),
            *applied,
        ]
        taken = 0
        for statement, width in queries.write_receipt(
            len(data.lines), len(pricing.promotions), db.is_sqlite()
        ):
            await db.fetch(statement, *arguments[taken : taken + width])
            taken += width
        await platform.enqueue_pass_update(card.account_id)
    return reply


def _repeated(
    row: dict[str, Any], request_hash: str, external_id: str, what: str = "receipt"
) -> Any:
    """The reply stored for a till's id posted before, or 409 when its contents differ."""
    if row["request_hash"] != request_hash:
        raise ReceiptConflict(
            f"{what} {external_id} was already posted at this store with different contents; "
            f"a correction is a return plus a new {what} id",
            {"receipt_id": external_id},
        )
    return _loads(row["result"])


async def _earlier_return(store_key: str, request_hash: str, external_id: str) -> Any:
    rows = await db.fetch(queries.EARLIER_RETURN, store_key)
    return _repeated(rows[0], request_hash, external_id, "return") if rows else None


def _line_values(receipt_pk: int, lines: list[LineIn], results: list[LineResult]) -> list[Any]:
    """The receipt's lines as ``queries.write_receipt`` takes them, row after row."""
    return [
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
            # The tier's points only: a promotion's are re-priced on a return.
            result.earned_points - sum(p.points for p in result.promotion_points),
            line.brand,
            result.discount_kopecks,
            sum(d.kopecks for d in result.discounts if d.promotion_id == 0),
        )
    ]


async def _promotion_rows(
    receipt_pk: int,
    pricing: Pricing,
    catalogue: engine.Catalogue,
    lot_id: int | None,
    *,
    account_id: int,
    at: datetime,
    rules: Rules,
) -> list[Any]:
    """What each promotion gave (as ``queries.write_receipt`` takes them, row after row),
    its budget taken now."""
    values: list[Any] = []
    for applied in pricing.promotions:
        compiled = catalogue.by_id[applied.promotion_id]
        use_key = None
        if compiled.budgeted:
            use_key = await promotions.consume(
                compiled,
                account_id=account_id,
                at=at,
                points=applied.points,
                discount=applied.discount_kopecks,
                point_value=rules.point_value_kopecks,
            )
        values += (
            receipt_pk,
            applied.promotion_id,
            applied.name,
            applied.discount_kopecks,
            applied.points,
            lot_id if applied.points else None,
            use_key,
        )
    return values


async def _audit_manual(data: ReceiptIn, pricing: Pricing, *, store_id: int, actor: str) -> None:
    """Each cashier discount in the audit log, with the key (``actor``) and the store."""
    for line, result in zip(data.lines, pricing.lines, strict=True):
        if line.manual_discount is None:
            continue
        kopecks = sum(d.kopecks for d in result.discounts if d.promotion_id == 0)
        await platform.audit(
            actor=actor,
            action="receipt.manual_discount",
            subject=f"store:{store_id}",
            details={
                "receipt_id": data.receipt_id,
                "line": result.line,
                "kopecks": kopecks,
                "reason": line.manual_discount.reason,
            },
        )


@db.retry_on_deadlock
async def post_return(
    receipt_id: str, data: ReturnIn, *, store_id: int, actor: str, now: datetime
) -> ReturnOut:
    """Reverse what the returned lines earned and give back what they redeemed
    (``pricing.price_return``). Refunded points go back as new lots with the expiry of the
    lots they were taken from."""
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
        await ledger.lock_account(account_id)
        # Activated while this return waited for the lock: the lots are on the new account.
        account_id = (await members.find_card_by_id(receipt["card"])).account_id
        async with ledger.account(account_id, now=now) as acct:
            earlier = await _earlier_return(store_key, request_hash, data.return_id)
            if earlier is not None:
                return msgspec.convert(earlier, ReturnOut)
            reply = await _reverse(
                acct,
                receipt["id"],
                receipt_id,
                data,
                actor=actor,
                store_key=store_key,
                occurred_at=occurred_at,
                request_hash=request_hash,
            )
        await platform.enqueue_pass_update(account_id)
    return reply


async def _reverse(
    acct: ledger.Book,
    receipt_pk: int,
    receipt_id: str,
    data: ReturnIn,
    *,
    actor: str,
    store_key: str,
    occurred_at: datetime,
    request_hash: str,
) -> ReturnOut:
    """The return's writes, under the account's lock: lines, points, progress, reply."""
    now = acct.now
    receipt = await Receipt.select().where(Receipt.id == receipt_pk).first()
    assert receipt is not None
    rows = {
        row["line_no"]: row
        for row in await ReceiptLine.select().where(ReceiptLine.receipt == receipt_pk)
    }
    rules = await rules_service.rules_at(receipt["occurred_at"])
    applied = {
        row["promotion_id"]: row for row in await db.fetch(queries.APPLIED_PROMOTIONS, receipt_pk)
    }
    saved = promotions.compile_saved(
        (pid, row["name"], row["definition"]) for pid, row in applied.items()
    )
    priced = price_return(
        receipt_id,
        {no: msgspec.convert(row, SoldLine) for no, row in rows.items()},
        data.lines,
        redeemed_points=receipt["redeemed_points"],
        refunded_points=receipt["refunded_points"],
        point_value_kopecks=rules.point_value_kopecks,
        promotions=saved,
        kept={
            pid: (
                row["discount_kopecks"] - row["returned_discount_kopecks"],
                row["points"] - row["returned_points"],
            )
            for pid, row in applied.items()
        },
        excluded=frozenset(rules.no_earn_categories) | frozenset(rules.no_redeem_categories),
    )
    for line in priced.lines:
        await ReceiptLine.update(
            {
                ReceiptLine.returned_kopecks: line.returned_kopecks,
                ReceiptLine.returned_earned_points: line.returned_earned_points,
                ReceiptLine.returned_redeemed_kopecks: line.returned_redeemed_kopecks,
            }
        ).where(ReceiptLine.id == rows[line.result.line]["id"])
    reason = f"return {data.return_id} of receipt {receipt_id}"
    if priced.refund_points > 0:
        await acct.refund(
            priced.refund_points,
            receipt_id=receipt_pk,
            refunded_before=receipt["refunded_points"],
            actor=actor,
            reason=reason,
        )
        await Receipt.update(
            {Receipt.refunded_points: Receipt.refunded_points + priced.refund_points}
        ).where(Receipt.id == receipt_pk)
    reversal = {"from_receipt_lot": 0, "from_balance": 0, "owed": 0}
    promo_points = sum(back.points for back in priced.promotions)
    parts: list[tuple[int | None, int]] = [(None, priced.reverse_points - promo_points)]
    # Promotions this return takes back in full: their coupons go back to the shopper.
    gone: set[int] = set()
    for back in priced.promotions:
        row = applied[back.promotion_id]
        await db.fetch(
            queries.RETURN_PROMOTION,
            back.discount_kopecks,
            back.points,
            row["id"],
        )
        if saved.by_id[back.promotion_id].budgeted:
            await promotions.give_back(
                back.promotion_id,
                row["use_key"],
                points=back.points,
                discount=back.discount_kopecks,
                point_value=rules.point_value_kopecks,
            )
        parts.append((back.promotion_id, back.points))
        if (
            back.discount_kopecks >= row["discount_kopecks"] - row["returned_discount_kopecks"]
            and back.points >= row["points"] - row["returned_points"]
        ):
            gone.add(back.promotion_id)
    coupons_back = await coupon_codes.give_back(receipt_pk, gone, now=now)
    for promotion_id, points in parts:
        if points <= 0:
            continue
        taken = await acct.take_back(
            points,
            from_lot=receipt["earned_lot_id"],
            receipt_id=receipt_pk,
            actor=actor,
            reason=reason,
            promotion_id=promotion_id,
        )
        reversal = {key: reversal[key] + taken[key] for key in reversal}
    acct.add_spend(-priced.refund_money_kopecks, at=receipt["occurred_at"])
    await events.publish(
        ReturnPosted(
            account_id=acct.id,
            card_id=receipt["card"],
            receipt_pk=receipt_pk,
            occurred_at=receipt["occurred_at"],
            lines=[
                (rows[line.result.line]["category"], line.result.refund_money_kopecks)
                for line in priced.lines
            ],
            now=now,
        )
    )
    card = await members.find_card_by_id(receipt["card"])
    reply = ReturnOut(
        return_id=data.return_id,
        receipt_id=receipt_id,
        card_number=card.number,
        returned_kopecks=priced.returned_kopecks,
        refund_money_kopecks=priced.refund_money_kopecks,
        refunded_points=max(priced.refund_points, 0),
        reversed_points=priced.reverse_points,
        reversal=Reversal(**reversal),
        balance_after=acct.balance,
        pending_after=acct.pending,
        debt_after=acct.debt,
        lines=[line.result for line in priced.lines],
        promotions=[
            PromotionReturned(
                promotion_id=back.promotion_id,
                discount_kopecks=back.discount_kopecks,
                points=back.points,
            )
            for back in priced.promotions
        ],
        coupons_returned=len(coupons_back),
    )
    await ReceiptReturn.insert(
        ReceiptReturn(
            receipt=receipt_pk,
            external_id=data.return_id,
            store_key=store_key,
            occurred_at=occurred_at,
            request_hash=request_hash,
            result=msgspec.to_builtins(reply),
            created_at=now,
        )
    )
    return reply
