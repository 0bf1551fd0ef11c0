"""Shoppers and their cards: joining, looking a card up, blocking, replacing, family cards."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any

import msgspec

from wallet import codes, db, phones
from wallet.errors import (
    AccountNotFound,
    CardNotActive,
    CardNotFound,
    Conflict,
    InvalidInput,
    ReferralCodeUnknown,
    ReferralRefused,
)
from wallet.ledger import service as ledger
from wallet.members import privacy, queries
from wallet.members.events import (
    CardBlocked,
    CardIssued,
    ConsentChanged,
    MemberChanged,
    MemberJoined,
)
from wallet.members.schemas import LANGUAGES, AddCardIn, CardOut, EnrolIn
from wallet.members.tables import Card, Member
from wallet.platform import events
from wallet.platform import service as platform
from wallet.stores import service as stores


class CardInfo(msgspec.Struct, frozen=True):
    id: int
    number: str
    account_id: int
    kind: str
    role: str
    status: str
    holder_name: str
    replaced_by: str | None
    pass_serial: str


_CARD_COLUMNS = (
    Card.id,
    Card.number,
    Card.account.as_alias("account_id"),
    Card.kind,
    Card.role,
    Card.status,
    Card.holder_name,
    Card.replaced_by,
    Card.pass_serial,
)


def _check_number(number: str) -> None:
    if not codes.is_valid_card_number(number):
        raise InvalidInput(
            f"{number!r} is not a card number: 16 digits with a valid check digit",
            {"number": number},
        )


async def find_card(number: str) -> CardInfo:
    _check_number(number)
    rows = await db.fetch(queries.CARD_BY_NUMBER, number)
    if not rows:
        raise CardNotFound(f"no card {number}", {"number": number})
    return CardInfo(**rows[0])


async def find_card_by_id(card_id: int) -> CardInfo:
    row = await Card.select(*_CARD_COLUMNS).where(Card.id == card_id).first()
    if row is None:
        raise CardNotFound(f"no card with id {card_id}", {"card_id": card_id})
    return CardInfo(**row)


async def usable_card(number: str) -> CardInfo:
    """A card a till may use: a blocked or replaced card is refused with the reason."""
    card = await find_card(number)
    check_usable(card)
    return card


def check_usable(card: CardInfo) -> None:
    number = card.number
    if card.status != "active":
        details: dict[str, Any] = {"number": number, "status": card.status}
        message = f"card {number} is {card.status}"
        if card.replaced_by:
            details["replaced_by"] = card.replaced_by
            message += "; ask the shopper for the new card"
        raise CardNotActive(message, details)


async def cards_of_account(account_id: int) -> list[CardInfo]:
    rows = await Card.select(*_CARD_COLUMNS).where(Card.account == account_id).order_by(Card.id)
    return [CardInfo(**row) for row in rows]


async def cards_of_accounts(account_ids: list[int]) -> dict[int, list[CardInfo]]:
    """``cards_of_account`` for many accounts in a few IN queries (pass refreshes and
    campaigns work on batches of accounts)."""
    found: dict[int, list[CardInfo]] = {account_id: [] for account_id in account_ids}
    ids = list(found)
    for chunk in db.chunks(ids):
        for row in await db.fetch(queries.cards_of_accounts(len(chunk)), *chunk):
            found[row["account_id"]].append(CardInfo(**row))
    return found


def card_out(card: CardInfo) -> CardOut:
    return CardOut(
        number=card.number,
        kind=card.kind,
        role=card.role,
        status=card.status,
        holder_name=card.holder_name,
    )


async def _insert_card(
    *,
    account_id: int,
    kind: str,
    role: str,
    holder_name: str,
    now: datetime,
    number: str | None = None,
) -> CardInfo:
    # A random 13-digit body collides about once in 10^13/N tries; retry on the unique key.
    for _ in range(5):
        candidate = number or codes.new_card_number()
        try:
            await Card.insert(
                Card(
                    number=candidate,
                    account=account_id,
                    kind=kind,
                    role=role,
                    status="active",
                    holder_name=holder_name,
                    pass_serial=secrets.token_hex(16),
                    created_at=now,
                )
            )
        except Exception as exc:
            if db.is_unique_violation(exc):
                if number is not None:
                    raise Conflict(f"card {number} already exists", {"number": number}) from exc
                continue
            raise
        return await find_card(candidate)
    raise RuntimeError("could not draw a free card number in 5 tries; the number space is full")


_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _referral_check(account_id: int) -> str:
    digest = base64.urlsafe_b64decode(codes.mac("referral", str(account_id)) + "=")
    return base64.b32encode(digest).decode()[:6]


def referral_code(account_id: int) -> str:
    """The account's code to share: its id in base 36 and six characters of a MAC, so codes
    cannot be guessed by counting and need no table (every member has one from the start)."""
    body, n = "", account_id
    while True:
        n, digit = divmod(n, 36)
        body = _B36[digit] + body
        if n == 0:
            break
    return f"{body}-{_referral_check(account_id)}"


def account_of_referral_code(code: str) -> int | None:
    """The account a code belongs to, or ``None`` for a code we never gave out."""
    body, _, check = code.strip().upper().partition("-")
    if not body or len(body) > 12 or any(c not in _B36 for c in body):
        return None
    account_id = int(body, 36)
    return account_id if codes.same_secret(check, _referral_check(account_id)) else None


async def check_referral(
    code: str, *, account_id: int | None, email: str | None, phone: str | None
) -> int:
    """The referrer's account for ``code``, or a refusal naming why it cannot count: an
    unknown code, the shopper's own account (a second card of it), or the same person
    (phone or email) as the referrer."""
    referrer = account_of_referral_code(code)
    owner = await member_of_account(referrer) if referrer is not None else None
    if referrer is None or owner is None:
        raise ReferralCodeUnknown(f"no referral code {code!r}; check it with your friend")
    if account_id is not None and referrer == account_id:
        raise ReferralRefused(
            "this code is your own account's (another card of it): ask a friend for theirs",
            {"reason": "same_account", "code": code},
        )
    if (email and owner["email"] == email) or (phone and owner["phone"] == phone):
        raise ReferralRefused(
            "this code belongs to you: a referral needs a friend's code",
            {"reason": "self_referral", "code": code},
        )
    return referrer


async def _already_member(email: str | None, phone: str | None) -> bool:
    if email and await Member.exists().where(Member.email == email):
        return True
    return bool(phone and await Member.exists().where(Member.phone == phone))


class Enrolled(msgspec.Struct, frozen=True):
    member_id: int
    account_id: int
    card: CardInfo


def with_normal_phone(data: EnrolIn) -> EnrolIn:
    """The enrolment with its phone in E.164 (one shopper however the number was typed);
    a 422 naming ``phone`` when it is not a valid number."""
    if data.phone is None:
        return data
    phone = phones.normalise_optional(data.phone, field="phone")
    return data if phone == data.phone else msgspec.structs.replace(data, phone=phone)


def check_enrolment(data: EnrolIn, *, now: datetime) -> None:
    """The rules an enrolment's body must meet, before anything is counted or written."""
    if not data.email and not data.phone:
        raise InvalidInput("give an email or a phone number", {"fields": ["email", "phone"]})
    if not (data.consents.program and data.consents.personal_data):
        raise InvalidInput(
            "joining needs consent to the program rules and to personal data processing",
            {"consents": ["program", "personal_data"]},
        )
    if data.birthday is not None and not (
        datetime(1900, 1, 1).date() <= data.birthday <= now.date()
    ):
        raise InvalidInput("birthday is not a plausible date", {"birthday": str(data.birthday)})


async def enrol(data: EnrolIn, *, now: datetime) -> Enrolled:
    """Join the program: a member, an account and a virtual card, in the caller's
    transaction. Strangers join through ``members.joining``, which limits them and never
    tells them who is a member."""
    data = with_normal_phone(data)
    check_enrolment(data, now=now)
    join_store_id = None
    if data.join_store:
        join_store_id = (await stores.get_store(data.join_store)).id
    email = data.email.strip().lower() if data.email else None
    referrer = None
    if data.ref:
        referrer = await check_referral(data.ref, account_id=None, email=email, phone=data.phone)
        if await _already_member(email, data.phone):
            raise ReferralRefused(
                "a shopper with this email or phone is already a member: a referral is for "
                "new shoppers",
                {"reason": "already_member", "code": data.ref},
            )
    account_id = await ledger.open_account(now=now, join_store_id=join_store_id)
    try:
        rows = await Member.insert(
            Member(
                account=account_id,
                name=data.name.strip(),
                email=email,
                phone=data.phone,
                birthday=data.birthday,
                consent_program_at=now,
                consent_program_version=data.consents.terms_version,
                consent_data_at=now,
                consent_data_version=data.consents.terms_version,
                marketing_email=data.consents.marketing_email,
                marketing_email_at=now if data.consents.marketing_email else None,
                marketing_push=data.consents.marketing_push,
                marketing_push_at=now if data.consents.marketing_push else None,
                marketing_sms=data.consents.marketing_sms,
                marketing_sms_at=now if data.consents.marketing_sms else None,
                join_store_id=join_store_id,
                language=data.language,
                created_at=now,
            )
        ).returning(Member.id)
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict(
                "a shopper with this email or phone is already a member; sign in instead",
                {"email": email, "phone": data.phone},
            ) from exc
        raise
    card = await _insert_card(
        account_id=account_id, kind="virtual", role="main", holder_name=data.name.strip(), now=now
    )
    member_id = int(rows[0]["id"])
    await _record_join_consents(member_id, data, now=now)
    await events.publish(
        MemberJoined(
            member_id=member_id,
            account_id=account_id,
            referrer_account_id=referrer,
            email=email,
            phone=data.phone,
            now=now,
        )
    )
    await _issued(card, now=now)
    return Enrolled(member_id=member_id, account_id=account_id, card=card)


async def _issued(card: CardInfo, *, now: datetime, replaces: str | None = None) -> None:
    await events.publish(
        CardIssued(
            card_id=card.id,
            account_id=card.account_id,
            number=card.number,
            kind=card.kind,
            role=card.role,
            replaces=replaces,
            now=now,
        )
    )


async def _record_join_consents(member_id: int, data: EnrolIn, *, now: datetime) -> None:
    version = data.consents.terms_version
    for channel, granted in (
        ("program", True),
        ("personal_data", True),
        ("marketing_email", data.consents.marketing_email),
        ("marketing_push", data.consents.marketing_push),
        ("marketing_sms", data.consents.marketing_sms),
    ):
        if granted:
            await privacy.record_consent(
                member_id, channel, True, version=version, source="join", now=now
            )


async def member_of_account(account_id: int) -> dict[str, Any] | None:
    return (
        await Member.select(
            Member.id,
            Member.name,
            Member.email,
            Member.phone,
            Member.birthday,
            Member.marketing_email,
            Member.marketing_push,
            Member.language,
            Member.created_at,
        )
        .where(Member.account == account_id)
        .first()
    )


async def member(member_id: int) -> dict[str, Any]:
    row = (
        await Member.select(
            Member.id,
            Member.account.as_alias("account_id"),
            Member.name,
            Member.email,
            Member.phone,
            Member.birthday,
            Member.marketing_email,
            Member.marketing_push,
            Member.marketing_sms,
            Member.language,
        )
        .where(Member.id == member_id)
        .first()
    )
    if row is None:
        raise AccountNotFound(f"no member {member_id}", {"member_id": member_id})
    return row


async def block_card(number: str, *, actor: str, reason: str, now: datetime) -> CardInfo:
    card = await find_card(number)
    if card.status == "replaced":
        raise Conflict(f"card {number} was replaced by {card.replaced_by}; block that one")
    await Card.update({Card.status: "blocked"}).where(Card.id == card.id)
    await platform.audit(
        actor=actor, action="card.block", subject=f"card:{number}", details={"reason": reason}
    )
    await platform.enqueue_pass_update(card.account_id)
    if card.status != "blocked":
        await events.publish(
            CardBlocked(card_id=card.id, account_id=card.account_id, number=number, now=now)
        )
    return await find_card(number)


async def replace_card(number: str, *, actor: str, reason: str, now: datetime) -> CardInfo:
    """A new number on the same account (so the balance stays); the old one is refused."""
    old = await find_card(number)
    if old.status == "replaced":
        raise Conflict(
            f"card {number} was already replaced by {old.replaced_by}",
            {"replaced_by": old.replaced_by},
        )
    new = await _insert_card(
        account_id=old.account_id,
        kind=old.kind,
        role=old.role,
        holder_name=old.holder_name,
        now=now,
    )
    await Card.update({Card.status: "replaced", Card.replaced_by: new.number}).where(
        Card.id == old.id
    )
    await platform.audit(
        actor=actor,
        action="card.replace",
        subject=f"card:{number}",
        details={"new_number": new.number, "reason": reason},
    )
    await platform.enqueue_pass_update(old.account_id)
    await _issued(new, now=now, replaces=old.number)
    return new


async def add_card(account_id: int, data: AddCardIn, *, actor: str, now: datetime) -> CardInfo:
    """A family card or a plastic twin: another card on the same account."""
    if await member_of_account(account_id) is None:
        raise AccountNotFound(f"no member account {account_id}", {"account_id": account_id})
    if data.number is not None:
        _check_number(data.number)
    card = await _insert_card(
        account_id=account_id,
        kind=data.kind,
        role=data.role,
        holder_name=data.holder_name,
        now=now,
        number=data.number,
    )
    await platform.audit(
        actor=actor,
        action="card.add",
        subject=f"account:{account_id}",
        details={"number": card.number, "kind": data.kind, "role": data.role},
    )
    await _issued(card, now=now)
    return card


async def create_anonymous_plastic_card(*, number: str, now: datetime) -> CardInfo:
    """A plastic card handed out at a till before anyone registers it: its own account (so
    it earns at once) and no member until a shopper activates it."""
    _check_number(number)
    account_id = await ledger.open_account(now=now)
    card = await _insert_card(
        account_id=account_id, kind="plastic", role="main", holder_name="", now=now, number=number
    )
    await _issued(card, now=now)
    return card


async def is_anonymous(card: CardInfo) -> bool:
    """No shopper owns the card's account yet."""
    return await member_of_account(card.account_id) is None


async def move_card_to_account(
    card_id: int, account_id: int, *, role: str, holder_name: str, actor: str
) -> CardInfo:
    """Put a card on another account (an activated plastic card joining its shopper); the
    points are moved by ``ledger.merge_accounts`` in the same transaction."""
    card = await find_card_by_id(card_id)
    await Card.update(
        {Card.account: account_id, Card.role: role, Card.holder_name: holder_name}
    ).where(Card.id == card_id)
    await platform.audit(
        actor=actor,
        action="card.move",
        subject=f"card:{card.number}",
        details={"from_account": card.account_id, "to_account": account_id, "role": role},
    )
    await platform.enqueue_pass_update(account_id)
    return await find_card_by_id(card_id)


async def set_marketing_consent(
    member_id: int,
    channel: str,
    value: bool,
    *,
    now: datetime,
    source: str = "api",
    version: str = "",
) -> None:
    """Opt in or out of marketing by ``email``, ``push`` or ``sms`` (an unsubscribe link, a page);
    each change is a new row of the consent trail."""
    columns: dict[Any, Any]
    if channel == "email":
        columns = {Member.marketing_email: value, Member.marketing_email_at: now}
    elif channel == "push":
        columns = {Member.marketing_push: value, Member.marketing_push_at: now}
    elif channel == "sms":
        columns = {Member.marketing_sms: value, Member.marketing_sms_at: now}
    else:
        raise InvalidInput(f"no marketing channel {channel!r}", {"channel": channel})
    await Member.update(columns).where(Member.id == member_id)
    await privacy.record_consent(
        member_id, f"marketing_{channel}", value, version=version, source=source, now=now
    )
    await platform.audit(
        actor=f"shopper:{member_id}",
        action=f"consent.marketing_{channel}",
        subject=f"member:{member_id}",
        details={"value": value},
    )
    found = await member(member_id)
    await events.publish(
        ConsentChanged(
            member_id=member_id,
            account_id=found["account_id"],
            consent=f"marketing_{channel}",
            value=value,
            source=source,
            now=now,
        )
    )
    await events.publish(
        MemberChanged(member_id=member_id, account_id=found["account_id"], now=now)
    )


async def set_marketing_consents(
    member_id: int, wanted: dict[str, bool | None], *, now: datetime, source: str
) -> None:
    """Switch marketing ``email``, ``push`` and ``sms`` to what the shopper asked (None:
    leave it);
    a value that does not change writes no consent row."""
    current = await member(member_id)
    for channel, value in wanted.items():
        if value is not None and bool(current[f"marketing_{channel}"]) != value:
            await set_marketing_consent(member_id, channel, value, now=now, source=source)


async def languages_of_accounts(account_ids: list[int]) -> dict[int, str]:
    """The language of each account's shopper (accounts without a member are left out)."""
    found: dict[int, str] = {}
    ids = sorted(set(account_ids))
    for chunk in db.chunks(ids):
        for row in await Member.select(Member.account, Member.language).where(
            Member.account.is_in(chunk)
        ):
            found[int(row["account"])] = row["language"]
    return found


async def set_language(member_id: int, language: str) -> None:
    """The language of the shopper's emails from now on (mail already queued keeps its
    own)."""
    if language not in LANGUAGES:
        raise InvalidInput(
            f"no language {language!r}; it is one of {', '.join(LANGUAGES)}",
            {"language": language},
        )
    await member(member_id)  # AccountNotFound for a member that is gone
    await Member.update({Member.language: language}).where(Member.id == member_id)
    await platform.audit(
        actor=f"shopper:{member_id}",
        action="member.language",
        subject=f"member:{member_id}",
        details={"language": language},
    )


async def set_phone(member_id: int, raw: str, *, now: datetime) -> str:
    """The shopper's phone from now on, in E.164; 409 when it is another member's (one
    account per phone). In the caller's write transaction."""
    phone = phones.normalise(raw, field="phone")
    found = await member(member_id)  # AccountNotFound for a member that is gone
    if await Member.exists().where((Member.phone == phone) & (Member.id != member_id)):
        raise Conflict("this phone is another member's; one account per phone", {"field": "phone"})
    try:
        await Member.update({Member.phone: phone}).where(Member.id == member_id)
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict(
                "this phone is another member's; one account per phone", {"field": "phone"}
            ) from exc
        raise
    await platform.audit(
        actor=f"shopper:{member_id}",
        action="member.phone",
        subject=f"member:{member_id}",
        details={"phone": phones.masked(phone)},
    )
    await events.publish(
        MemberChanged(member_id=member_id, account_id=found["account_id"], now=now)
    )
    return phone
