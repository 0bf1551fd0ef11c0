"""Manual discounts at the till: what a cashier may take off a line by hand at a store
(its limit and reasons, set by an admin), checked for each receipt and quote."""

from __future__ import annotations

import json

import msgspec

from wallet import db, words
from wallet.platform import service as platform
from wallet.promotions import effects, queries
from wallet.promotions.schemas import ManualDiscountPolicyIn, ManualDiscountPolicyOut
from wallet.promotions.service import ManualDiscountRefused, PromotionRefused


async def manual_discounts(
    store_id: int, lines: list[tuple[int, int | None, int | None, str | None]]
) -> list[int] | None:
    """Kopecks off each line by the cashier ((amount, kopecks, percent_bp, reason) per
    line), checked against the store's limit and list of reasons; None if none asked."""
    if not any(reason is not None for *_, reason in lines):
        return None
    rows = await db.fetch(queries.POLICY, store_id)
    if not rows:
        raise ManualDiscountRefused(
            "this store allows no manual discounts; an admin sets its limit first",
            {"store_id": store_id},
        )
    limit = rows[0]["max_line_share_bp"]
    reasons = rows[0]["reasons"]
    reasons = json.loads(reasons) if isinstance(reasons, str) else reasons
    found: list[int] = []
    for number, (amount, kopecks, percent_bp, reason) in enumerate(lines, start=1):
        if reason is None:
            found.append(0)
            continue
        if reason not in reasons:
            raise ManualDiscountRefused(
                f"line {number}: {reason!r} is not a reason this store allows",
                {"line": number, "reasons": reasons},
            )
        if (kopecks is None) == (percent_bp is None):
            raise ManualDiscountRefused(
                f"line {number}: send either kopecks or percent_bp", {"line": number}
            )
        off = kopecks if kopecks is not None else amount * (percent_bp or 0) // effects.FULL
        most = amount * limit // effects.FULL
        if off > most:
            raise ManualDiscountRefused(
                f"line {number}: {words.money(off, 'en')} off is above this store's limit of "
                f"{limit / 100:g}% ({words.money(most, 'en')})",
                {"line": number, "asked_kopecks": off, "max_kopecks": most, "max_share_bp": limit},
            )
        found.append(off)
    return found


async def set_manual_policy(
    store_code: str, data: ManualDiscountPolicyIn, *, actor: str
) -> ManualDiscountPolicyOut:
    rows = await db.fetch(queries.with_in(queries.STORE_CODES, 1), store_code)
    if not rows:
        raise PromotionRefused("unknown_store", f"no store {store_code!r}", {"store": store_code})
    await db.fetch(queries.UPSERT_POLICY, rows[0]["id"], data.max_line_share_bp, data.reasons)
    await platform.audit(
        actor=actor,
        action="manual_discount.policy",
        subject=f"store:{store_code}",
        details=msgspec.to_builtins(data),
    )
    return ManualDiscountPolicyOut(
        store_code=store_code, max_line_share_bp=data.max_line_share_bp, reasons=data.reasons
    )
