"""What a shopper sees of their account over the API (/me, the history, the card links):
the account read model (``wallet.accounts``) with the cards, pass links and receipts
around it."""

from __future__ import annotations

from datetime import datetime

import msgspec

from wallet import settings
from wallet.accounts import read as accounts
from wallet.ledger import reads as ledger_reads
from wallet.members import service
from wallet.members.schemas import ExpiryOut, Links, MeOut, ReferralOut
from wallet.passsync import links as pass_links
from wallet.receipts import imported as receipt_imports
from wallet.receipts import reads as receipt_reads


def referral(account_id: int) -> ReferralOut:
    return accounts.referral(account_id)


def links(card_number: str) -> Links:
    base = settings.get().base_url
    return Links(
        qr_png=f"{base}/api/v1/me/cards/{card_number}/qr.png",
        qr_svg=f"{base}/api/v1/me/cards/{card_number}/qr.svg",
        card_page=f"{base}/card",
        apple_pass=pass_links.apple_pass_link(card_number),
        google_save=pass_links.google_save_link(card_number),
    )


def main_card(cards: list[service.CardInfo]) -> service.CardInfo:
    """The card a shopper's links point at: the active main card, else any active one."""
    return next((c for c in cards if c.status == "active" and c.role == "main"), None) or next(
        (c for c in cards if c.status == "active"), cards[0]
    )


async def me(member_id: int, *, now: datetime) -> MeOut:
    member = await service.member(member_id)
    account_id = member["account_id"]
    shown = await accounts.read_one(account_id, now=now, languages=False)
    cards = await service.cards_of_account(account_id)
    return MeOut(
        account_id=account_id,
        name=member["name"],
        email=member["email"],
        phone=member["phone"],
        language=member["language"],
        balance=shown.balance,
        pending=shown.pending,
        debt=shown.debt,
        tier=shown.tier,
        next_expiry=(
            ExpiryOut(points=shown.next_expiry.points, expires_at=shown.next_expiry.expires_at)
            if shown.next_expiry
            else None
        ),
        pending_lots=[
            ExpiryOut(points=lot.points, expires_at=lot.expires_at) for lot in shown.pending_lots
        ],
        cards=[service.card_out(card) for card in cards],
        links=links(main_card(cards).number),
        tier_progress=shown.tier_out(member["language"]),
        referral=shown.referral(),
        marketing_email=bool(member["marketing_email"]),
        marketing_push=bool(member["marketing_push"]),
        marketing_sms=bool(member["marketing_sms"]),
    )


class HistoryItem(msgspec.Struct, frozen=True):
    id: int
    """The journal entry; 0 for a receipt that moved no points (kind ``no_points``) and
    for a purchase of the previous program (kind ``imported``)."""
    kind: str
    """The journal entry's kind (``earn``, ``redeem``...), ``no_points`` for a receipt that
    moved none, or ``imported``: a purchase made in the shopper's previous program, brought
    by the chain's import (its points were earned there; ``receipt_id`` is the old
    program's receipt id)."""
    points: int
    at: datetime
    """When the points moved (the receipt's posting for a purchase; for ``imported``, when
    the purchase happened)."""
    receipt_id: str | None
    store: str | None
    receipt_total_kopecks: int | None
    lot_expires_at: datetime | None
    reason: str
    """Why: a support adjustment's reason; for ``no_points``, ``categories:<a>,<b>`` (every
    line was of a category that earns nothing) or ``too_small`` (the points rounded to 0);
    for ``imported``, ``category:<name>`` when the old program gave one."""
    receipt_at: datetime | None = None
    """When the purchase happened, by the till's clock (the receipt's ``occurred_at``)."""


class HistoryPage(msgspec.Struct, frozen=True):
    items: list[HistoryItem]
    next_before: int | None
    next_before_imported: int | None = None
    """When ``next_before`` is null (the point movements are all shown) and older purchases
    of the previous program remain: pass it as ``before_imported`` for the next page."""


def _no_points_reason(row: dict[str, object]) -> str:
    categories = row["no_points_categories"]
    if row["every_line_excluded"] and isinstance(categories, list) and categories:
        return "categories:" + ",".join(str(c) for c in categories)
    return "too_small"


def _imported_item(kept: receipt_imports.Kept) -> HistoryItem:
    return HistoryItem(
        id=0,
        kind="imported",
        points=0,
        at=kept.occurred_at,
        receipt_id=kept.old_id,
        store=None,
        receipt_total_kopecks=kept.paid_kopecks,
        lot_expires_at=None,
        reason=f"category:{kept.category}" if kept.category else "",
        receipt_at=kept.occurred_at,
    )


# Purchases of the previous program listed between two point movements at most (the rest
# of a long old history follows the last movement, a page at a time).
IMPORTED_BETWEEN = 100


async def history(
    account_id: int, *, limit: int, before: int | None, before_imported: int | None = None
) -> HistoryPage:
    if before_imported is not None:
        # Past the last point movement: the old program's purchases, a page at a time.
        older = await receipt_imports.page(account_id, before_id=before_imported, limit=limit + 1)
        shown = older[:limit]
        return HistoryPage(
            items=[_imported_item(kept) for kept in shown],
            next_before=None,
            next_before_imported=shown[-1].id if len(older) > limit else None,
        )
    lines = await ledger_reads.history(account_id, limit=limit, before_id=before)
    found = await receipt_reads.receipts_by_id(
        {line.receipt_id for line in lines if line.receipt_id}
    )
    more = len(lines) == limit
    # Receipts that moved no points have no journal entry: the ones posted in the span
    # this page covers (after the oldest entry shown, if older ones follow; up to the
    # entry the previous page ended at) are listed among the entries.
    until = None
    if before is not None:
        edge = await ledger_reads.history(account_id, limit=1, before_id=before + 1)
        until = edge[0].created_at if edge and edge[0].id == before else None
    after = lines[-1].created_at if more and lines else None
    quiet = await receipt_reads.receipts_without_points(account_id, after=after, until=until)
    # So are the purchases of the previous program that happened in that span: on the
    # last page of movements, as many as fill the page, and the rest on pages of their own.
    cap = IMPORTED_BETWEEN if more else limit - len(lines)
    old = await receipt_imports.page(account_id, after=after, until=until, limit=cap + 1)
    next_imported = old[cap - 1].id if not more and len(old) > cap else None
    dated: list[tuple[datetime, HistoryItem]] = []
    for line in lines:
        receipt = found.get(line.receipt_id) if line.receipt_id else None
        item = HistoryItem(
            id=line.id,
            kind=line.kind,
            points=line.points,
            at=line.created_at,
            receipt_id=receipt["external_id"] if receipt else None,
            store=receipt["store_name"] if receipt else None,
            receipt_total_kopecks=receipt["total_kopecks"] if receipt else None,
            lot_expires_at=line.lot_expires_at,
            reason=line.reason,
            receipt_at=receipt["occurred_at"] if receipt else None,
        )
        dated.append((line.created_at, item))
    for row in quiet:
        item = HistoryItem(
            id=0,
            kind="no_points",
            points=0,
            at=row["posted_at"],
            receipt_id=row["external_id"],
            store=row["store_name"],
            receipt_total_kopecks=row["total_kopecks"],
            lot_expires_at=None,
            reason=_no_points_reason(row),
            receipt_at=row["occurred_at"],
        )
        dated.append((row["posted_at"], item))
    dated.extend((kept.occurred_at, _imported_item(kept)) for kept in old[:cap])
    dated.sort(key=lambda pair: pair[0], reverse=True)
    return HistoryPage(
        items=[item for _at, item in dated],
        next_before=lines[-1].id if more else None,
        next_before_imported=next_imported,
    )
