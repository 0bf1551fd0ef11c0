"""What a shopper sees of their account, assembled from the members, ledger, rules and
receipts services."""

from __future__ import annotations

from datetime import datetime

import msgspec

from wallet import settings
from wallet.ledger import service as ledger
from wallet.members import service
from wallet.members.schemas import ExpiryOut, Links, MeOut, ReferralOut, TierOut
from wallet.passsync import links as pass_links
from wallet.rules import service as rules_service
from wallet.rules.schemas import TierStanding


class Enrolment(msgspec.Struct, frozen=True):
    card_number: str
    account_id: int
    member_id: int


def referral(account_id: int) -> ReferralOut:
    code = service.referral_code(account_id)
    return ReferralOut(code=code, link=f"{settings.get().base_url}/join?ref={code}")


def tier_out(standing: TierStanding, language: str) -> TierOut:
    return TierOut(
        name=standing.tier.name,
        earn_rate_bp=standing.tier.earn_rate_bp,
        next_tier=standing.next_tier.name if standing.next_tier else None,
        next_earn_rate_bp=standing.next_tier.earn_rate_bp if standing.next_tier else None,
        missing_kopecks=standing.missing_kopecks,
        progress=standing.progress_text(language),
    )


def links(card_number: str) -> Links:
    base = settings.get().base_url
    return Links(
        qr_png=f"{base}/api/v1/me/cards/{card_number}/qr.png",
        qr_svg=f"{base}/api/v1/me/cards/{card_number}/qr.svg",
        card_page=f"{base}/card",
        apple_pass=pass_links.apple_pass_link(card_number),
        google_save=pass_links.google_save_link(card_number),
    )


async def me(member_id: int, *, now: datetime) -> MeOut:
    member = await service.member(member_id)
    account_id = member["account_id"]
    summary = await ledger.summary(account_id, now=now)
    cards = await service.cards_of_account(account_id)
    rules = await rules_service.rules_at(now)
    main = next((c for c in cards if c.status == "active" and c.role == "main"), None) or next(
        (c for c in cards if c.status == "active"), cards[0]
    )
    standing = await ledger.tier_standing(
        account_id, now=now, lifetime_spend_kopecks=summary.lifetime_spend_kopecks, rules=rules
    )
    return MeOut(
        account_id=account_id,
        name=member["name"],
        email=member["email"],
        phone=member["phone"],
        language=member["language"],
        balance=summary.balance,
        pending=summary.pending,
        debt=summary.debt,
        tier=standing.tier.name,
        next_expiry=(
            ExpiryOut(points=summary.next_expiry.points, expires_at=summary.next_expiry.expires_at)
            if summary.next_expiry
            else None
        ),
        pending_lots=[
            ExpiryOut(points=lot.points, expires_at=lot.expires_at) for lot in summary.pending_lots
        ],
        cards=[service.card_out(card) for card in cards],
        links=links(main.number),
        tier_progress=tier_out(standing, member["language"]),
        referral=referral(account_id),
    )


class HistoryItem(msgspec.Struct, frozen=True):
    id: int
    kind: str
    points: int
    at: datetime
    receipt_id: str | None
    store: str | None
    receipt_total_kopecks: int | None
    lot_expires_at: datetime | None
    reason: str


class HistoryPage(msgspec.Struct, frozen=True):
    items: list[HistoryItem]
    next_before: int | None


async def history(account_id: int, *, limit: int, before: int | None) -> HistoryPage:
    from wallet.receipts import service as receipts

    lines = await ledger.history(account_id, limit=limit, before_id=before)
    found = await receipts.receipts_by_id({line.receipt_id for line in lines if line.receipt_id})
    items = []
    for line in lines:
        receipt = found.get(line.receipt_id) if line.receipt_id else None
        items.append(
            HistoryItem(
                id=line.id,
                kind=line.kind,
                points=line.points,
                at=line.created_at,
                receipt_id=receipt["external_id"] if receipt else None,
                store=receipt["store_name"] if receipt else None,
                receipt_total_kopecks=receipt["total_kopecks"] if receipt else None,
                lot_expires_at=line.lot_expires_at,
                reason=line.reason,
            )
        )
    return HistoryPage(items=items, next_before=lines[-1].id if len(lines) == limit else None)
