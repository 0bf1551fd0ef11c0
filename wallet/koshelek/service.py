"""The rules of cards in «Кошелёк»: finding a shopper's card, issuing one, their channels.

Кошелёк's wire format lives in ``protocol``; this module speaks members and cards. A
refusal Кошелёк must show the shopper is a ``Refusal`` naming one of ``protocol.ERRORS``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from wallet import db
from wallet import settings as settings_module
from wallet.errors import DomainError
from wallet.koshelek import protocol, queries
from wallet.koshelek.tables import KoshelekCard
from wallet.members import service as members
from wallet.members.schemas import Consents, EnrolIn
from wallet.members.service import CardInfo
from wallet.members.tables import Member
from wallet.platform import service as platform
from wallet.promotions import coupons

SOURCE = "koshelek"


class Refusal(DomainError):
    """Кошелёк gets 422 with the protocol's code for ``reason``."""

    status_code = 422
    code = "koshelek_refusal"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"koshelek: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.detail = detail


class Found(msgspec.Struct, frozen=True):
    card: CardInfo
    active: bool


async def _accounts_matching(
    msisdn: str | None, email: str | None, birthday: date | None
) -> list[list[int]]:
    """Accounts found by each parameter, strongest first (phone, email, birthday): the
    search is an OR, and when several shoppers match the strongest parameter decides."""
    found: list[list[int]] = []
    if msisdn:
        rows = await Member.select(Member.account).where(
            Member.phone.is_in(protocol.phone_forms(msisdn))
        )
        found.append(sorted({int(r["account"]) for r in rows}))
    if email:
        rows = await Member.select(Member.account).where(Member.email == email.strip().lower())
        found.append(sorted({int(r["account"]) for r in rows}))
    if birthday:
        rows = await Member.select(Member.account).where(Member.birthday == birthday)
        found.append(sorted({int(r["account"]) for r in rows}))
    return [ids for ids in found if ids]


async def main_card(account_id: int) -> CardInfo | None:
    """The one card Кошелёк shows for an account: its active main card, else the newest
    active card, else the blocked main one (a replaced card is never shown)."""
    cards = [c for c in await members.cards_of_account(account_id) if c.status != "replaced"]
    for wanted in (
        lambda c: c.role == "main" and c.status == "active",
        lambda c: c.status == "active",
        lambda c: c.role == "main",
        lambda c: True,
    ):
        chosen = [c for c in cards if wanted(c)]
        if chosen:
            return chosen[-1]
    return None


def _check_blocked(card: CardInfo) -> Found:
    active = card.status == "active"
    if not active and settings_module.get().koshelek_refuse_blocked:
        raise Refusal("card_blocked", card.number)
    return Found(card=card, active=active)


async def search(*, msisdn: str | None, email: str | None, birthday: date | None) -> Found | None:
    """The card for Кошелёк's search, or ``None`` (not found). Every parameter alone may
    find the shopper; a blocked card is refused when the program says so; several
    shoppers matching the strongest parameter given (only a birthday can) is ambiguous."""
    groups = await _accounts_matching(msisdn, email, birthday)
    if not groups:
        return None
    strongest = groups[0]
    if len(strongest) > 1:
        raise Refusal("ambiguous")
    card = await main_card(strongest[0])
    return None if card is None else _check_blocked(card)


async def _link(card: CardInfo, msisdn: str, *, now: datetime) -> None:
    row = (
        await KoshelekCard.select(KoshelekCard.id)
        .where(KoshelekCard.account_id == card.account_id)
        .first()
    )
    if row is None:
        await KoshelekCard.insert(
            KoshelekCard(
                account_id=card.account_id,
                card_number=card.number,
                msisdn=msisdn,
                issued_at=now,
                updated_at=now,
            )
        )
    else:
        await KoshelekCard.update(
            {
                KoshelekCard.card_number: card.number,
                KoshelekCard.msisdn: msisdn,
                KoshelekCard.updated_at: now,
            }
        ).where(KoshelekCard.id == row["id"])


async def issue(request: protocol.IssueRequest, *, now: datetime) -> Found:
    """Кошелёк's one-step issue: a shopper we know by phone or email gets their card; a new
    one joins (member, account, virtual card) with the terms they accepted in Кошелёк,
    recorded like our join page's consents with the source "koshelek"."""
    msisdn = protocol.msisdn_of(request.msisdn)
    if msisdn is None:
        raise Refusal("no_contact")
    email = (request.email or "").strip().lower() or None
    if email and not members_email_ok(email):
        email = None
    groups = await _accounts_matching(msisdn, email, None)
    if groups:
        card = await main_card(groups[0][0])
        if card is None:
            raise Refusal("card_not_found")
        found = _check_blocked(card)
        await _link(card, msisdn, now=now)
        await platform.audit(
            actor=SOURCE,
            action="koshelek.issue_existing",
            subject=f"card:{card.number}",
            details={"source": SOURCE},
        )
        await _apply_channels(card, request.allow, request.deny, now=now)
        return found
    if not protocol.truthy(request.termsAccepted):
        raise Refusal("terms_not_accepted")
    name = " ".join(
        part.strip()
        for part in (request.firstName, request.patronymicName, request.lastName)
        if part and part.strip()
    )[:200]
    birthday = protocol.date_of(request.birthDate)
    if birthday is not None and not (date(1900, 1, 1) <= birthday <= now.date()):
        birthday = None
    allowed = set(request.allow) - set(request.deny)
    terms_version = (request.termsVersion or "koshelek").strip()[:32] or "koshelek"
    data = EnrolIn(
        name=name or "Покупатель",
        consents=Consents(
            program=True,
            personal_data=True,
            terms_version=terms_version,
            marketing_email="email" in allowed,
            marketing_push="push" in allowed,
        ),
        email=email,
        phone=protocol.our_phone(msisdn),
        birthday=birthday,
    )
    enrolled = await members.enrol(data, now=now)
    await platform.audit(
        actor=SOURCE,
        action="consent.join",
        subject=f"member:{enrolled.member_id}",
        details={
            "source": SOURCE,
            "terms_version": terms_version,
            "program": True,
            "personal_data": True,
            "marketing_email": "email" in allowed,
            "marketing_push": "push" in allowed,
        },
    )
    await _link(enrolled.card, msisdn, now=now)
    await _set_local_channels(enrolled.card, request.allow, request.deny, now=now)
    return Found(card=enrolled.card, active=True)


def members_email_ok(email: str) -> bool:
    # The same shape EnrolIn demands; a malformed one is dropped rather than refusing a
    # shopper Кошелёк already verified by phone.
    import re

    return bool(re.match(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$", email))


def _choices(allow: list[str], deny: list[str]) -> dict[str, bool]:
    """Channel -> allowed, for the channels we know; a channel in both lists is denied."""
    found: dict[str, bool] = {}
    for channel in allow:
        if channel in protocol.CHANNELS:
            found[channel] = True
    for channel in deny:
        if channel in protocol.CHANNELS:
            found[channel] = False
    return found


async def _set_local_channels(
    card: CardInfo, allow: list[str], deny: list[str], *, now: datetime
) -> None:
    choices = _choices(allow, deny)
    columns: dict[Any, Any] = {}
    if "sms" in choices:
        columns[KoshelekCard.marketing_sms] = choices["sms"]
    if "call" in choices:
        columns[KoshelekCard.marketing_call] = choices["call"]
    if columns:
        await KoshelekCard.update({**columns, KoshelekCard.updated_at: now}).where(
            KoshelekCard.account_id == card.account_id
        )
        member = await members.member_of_account(card.account_id)
        await platform.audit(
            actor=SOURCE,
            action="consent.koshelek_channels",
            subject=f"member:{member['id'] if member else '?'}",
            details={
                "source": SOURCE,
                **{k: v for k, v in choices.items() if k in ("sms", "call")},
            },
        )


async def _apply_channels(
    card: CardInfo, allow: list[str], deny: list[str], *, now: datetime
) -> None:
    member = await members.member_of_account(card.account_id)
    if member is None:
        raise Refusal("card_not_found", card.number)
    for channel, value in _choices(allow, deny).items():
        if channel in ("email", "push"):
            # The member's own consent, with its trail row (as an unsubscribe link does).
            await members.set_marketing_consent(int(member["id"]), channel, value, now=now)
    await _set_local_channels(card, allow, deny, now=now)


async def set_channels(card_number: str, body: protocol.Communication, *, now: datetime) -> None:
    """Кошелёк's allow/deny of sms, email and call: email and push are the member's
    marketing consents; sms and call are kept with the card for a channel that reads them."""
    try:
        card = await members.find_card(card_number)
    except DomainError as exc:
        raise Refusal("card_not_found", card_number) from exc
    link = (
        await KoshelekCard.select(KoshelekCard.id)
        .where(KoshelekCard.account_id == card.account_id)
        .first()
    )
    if link is None:
        await _link(card, "", now=now)
    await _apply_channels(card, body.allow, body.deny, now=now)


async def list_users(*, extended: bool) -> bytes:
    if not settings_module.get().koshelek_list_users:
        raise Refusal("disabled")
    rows = await db.fetch(queries.USERS)
    if not extended:
        return protocol.users_reply([r["phone"] for r in rows])
    return protocol.users_extended_reply(
        [(r["phone"], {"cardNumber": r["card_number"] or ""}) for r in rows]
    )


async def redeem_promo_code(body: protocol.PromoCode, *, now: datetime) -> None:
    """A promo code the shopper typed in Кошелёк for their card: a valid unique code becomes
    their personal coupon (on the card page and the pass, used at the till); a refusal
    carries our coupon reason in the protocol's error."""
    if not body.cardNumber or not body.code:
        raise Refusal("bad_request", "cardNumber and code are required")
    try:
        card = await members.find_card(body.cardNumber)
    except DomainError as exc:
        raise Refusal("card_not_found", body.cardNumber) from exc
    async with db.write_transaction():
        checked = await coupons.redeem_code(body.code, account_id=card.account_id, now=now)
    if not checked.ok:
        raise Refusal(checked.reason or "coupon_unknown")


async def phones_of_accounts(account_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in db.chunks(sorted(set(account_ids))):
        for row in await Member.select(Member.account, Member.phone).where(
            Member.account.is_in(chunk)
        ):
            if row["phone"]:
                found[int(row["account"])] = protocol.msisdn_of_phone(row["phone"])
    return found


async def forget_account(account_id: int) -> None:
    """An erased shopper: what Кошелёк told us of them (the phone it knows them by, the
    channels only it asks about) goes, in the caller's transaction; the push rows keep no
    personal data and stay for the campaign figures."""
    await KoshelekCard.delete().where(KoshelekCard.account_id == account_id)
