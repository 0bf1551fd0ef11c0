"""The person behind an account, as 152-FZ sees them: the consent trail, erasure, and how
support finds someone.

Erasure removes the person and keeps the account: the member row stays with its personal
fields emptied (so the ledger's account keeps an owner and a second erase finds it erased),
the cards are blocked (their passes are voided by the usual pass-update path) and lose the
holder's name. Email and phone become NULL, which the unique indexes allow any number of
times, so the same address or number can join again as a new person.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec

from wallet import codes, db
from wallet.errors import AccountNotFound
from wallet.members import queries
from wallet.members.tables import Card, Consent, Member
from wallet.platform import service as platform

MARKETING = ("marketing_email", "marketing_push", "marketing_sms")


class ConsentRow(msgspec.Struct, frozen=True):
    id: int
    channel: str
    granted: bool
    text_version: str
    source: str
    at: datetime


async def record_consent(
    member_id: int,
    channel: str,
    granted: bool,
    *,
    version: str = "",
    source: str,
    now: datetime,
) -> int:
    rows = await Consent.insert(
        Consent(
            member_id=member_id,
            channel=channel,
            granted=granted,
            text_version=version,
            source=source,
            created_at=now,
        )
    ).returning(Consent.id)
    return int(rows[0]["id"])


async def consents_of(member_id: int) -> list[ConsentRow]:
    rows = (
        await Consent.select(
            Consent.id,
            Consent.channel,
            Consent.granted,
            Consent.text_version,
            Consent.source,
            Consent.created_at.as_alias("at"),
        )
        .where(Consent.member_id == member_id)
        .order_by(Consent.id)
    )
    return [ConsentRow(**{**row, "granted": bool(row["granted"])}) for row in rows]


async def consent(consent_id: int) -> ConsentRow | None:
    row = (
        await Consent.select(
            Consent.id,
            Consent.channel,
            Consent.granted,
            Consent.text_version,
            Consent.source,
            Consent.created_at.as_alias("at"),
        )
        .where(Consent.id == consent_id)
        .first()
    )
    return None if row is None else ConsentRow(**{**row, "granted": bool(row["granted"])})


def current_consent_sql(member_column: str, channel: str) -> str:
    """SQL for the id of the member's latest granted consent row of ``channel`` (a delivery
    made for a member with the marketing flag on names the row that turned it on)."""
    assert channel in MARKETING
    return queries.current_consent(member_column, channel)


class Profile(msgspec.Struct, frozen=True):
    member_id: int
    account_id: int
    name: str
    email: str | None
    phone: str | None
    birthday: Any
    language: str
    marketing_email: bool
    marketing_push: bool
    marketing_sms: bool
    joined_at: datetime
    erased_at: datetime | None


async def profile(member_id: int) -> Profile:
    row = (
        await Member.select(
            Member.id.as_alias("member_id"),
            Member.account.as_alias("account_id"),
            Member.name,
            Member.email,
            Member.phone,
            Member.birthday,
            Member.language,
            Member.marketing_email,
            Member.marketing_push,
            Member.marketing_sms,
            Member.created_at.as_alias("joined_at"),
            Member.erased_at,
        )
        .where(Member.id == member_id)
        .first()
    )
    if row is None:
        raise AccountNotFound(f"no member {member_id}", {"member_id": member_id})
    row["marketing_email"] = bool(row["marketing_email"])
    row["marketing_push"] = bool(row["marketing_push"])
    row["marketing_sms"] = bool(row["marketing_sms"])
    return Profile(**row)


async def erase(member_id: int, *, actor: str, source: str, now: datetime) -> bool:
    """Remove the person, in the caller's transaction. False when they were already erased
    (nothing changes). The caller revokes their tokens and sessions and drops the pass
    registrations; the cards' pass updates are queued here."""
    found = await profile(member_id)
    if found.erased_at is not None:
        return False
    erased = await db.fetch(queries.ERASE, now, member_id)
    if not erased:
        return False
    for channel in MARKETING:
        await record_consent(member_id, channel, False, source=source, now=now)
    await record_consent(member_id, "personal_data", False, source=source, now=now)
    # Blocked, not deleted: the receipts keep their card, and a till refuses the card from
    # now on; the pass update this queues voids the Apple pass and sets Google's INACTIVE.
    await Card.update({Card.status: "blocked", Card.holder_name: ""}).where(
        (Card.account == found.account_id) & (Card.status == "active")
    )
    await Card.update({Card.holder_name: ""}).where(Card.account == found.account_id)
    await platform.enqueue_pass_update(found.account_id)
    await platform.audit(
        actor=actor,
        action="member.erase",
        subject=f"member:{member_id}",
        details={"account_id": found.account_id, "source": source},
    )
    return True


# ---- finding a shopper (support) ----------------------------------------------------------


def phone_candidates(text: str) -> list[str]:
    """The forms the number typed may be stored in: its E.164 (``wallet.phones``, so
    "8 (916) 123-45-67", "+7 916 123 45 67" and "9161234567" are one number) and, for rows
    the phone migration could not read, the digits as they were typed before it."""
    from wallet import phones

    e164 = phones.parse(text)
    if e164 is None:
        return []
    digits = phones.digits(e164)
    found = {e164, digits}
    if e164.startswith("+7") and len(digits) == 11:
        found.add("8" + digits[1:])
    return sorted(found)


class Found(msgspec.Struct, frozen=True):
    member_id: int
    account_id: int
    name: str
    email: str | None
    phone: str | None
    matched: str


SEARCH_LIMIT = 20


async def search(q: str) -> list[Found]:
    """Members by phone (any format), email, card number, or part of the name (erased
    members are nobody: they are never found by what they were)."""
    q = q.strip()
    found: dict[int, Found] = {}
    columns = (
        Member.id.as_alias("member_id"),
        Member.account.as_alias("account_id"),
        Member.name,
        Member.email,
        Member.phone,
    )
    live = Member.erased_at.is_null()

    def add(rows: list[dict[str, Any]], matched: str) -> None:
        for row in rows:
            found.setdefault(row["member_id"], Found(**row, matched=matched))

    if "@" in q:
        add(await Member.select(*columns).where(live & (Member.email == q.lower())), "email")
    digits = re.sub(r"\D", "", q)
    if len(digits) == 16 and codes.is_valid_card_number(digits):
        card = await Card.select(Card.account).where(Card.number == digits).first()
        if card is not None:
            add(
                await Member.select(*columns).where(live & (Member.account == card["account"])),
                "card",
            )
    phones = phone_candidates(q) if re.fullmatch(r"[\d\s()+\-]+", q) else []
    if phones:
        add(await Member.select(*columns).where(live & Member.phone.is_in(phones)), "phone")
    if len(q) >= 3 and "@" not in q and not digits:
        add(await _by_name(q.casefold()), "name")
    return list(found.values())[:SEARCH_LIMIT]


async def _by_name(part: str) -> list[dict[str, Any]]:
    if db.is_sqlite():
        # SQLite's lower() and LIKE fold ASCII only, and the names are Cyrillic: the names
        # are folded here instead (a scan: correct, slower than PostgreSQL's index).
        rows = await db.fetch(queries.LIVE_MEMBERS)
        return [row for row in rows if part in row["name"].casefold()][:SEARCH_LIMIT]
    pattern = part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return await db.fetch(queries.MEMBERS_BY_NAME, f"%{pattern}%", SEARCH_LIMIT)


async def inactive_members(
    *, joined_before: datetime, after_id: int, limit: int
) -> list[dict[str, Any]]:
    """Members not erased who joined before the cutoff (the retention rule then asks the
    ledger and sign-in which of them did anything since)."""
    return await (  # type: ignore[no-any-return]
        Member.select(Member.id, Member.account.as_alias("account_id"))
        .where(
            Member.erased_at.is_null()
            & (Member.created_at < joined_before)
            & (Member.id > after_id)
        )
        .order_by(Member.id)
        .limit(limit)
    )
