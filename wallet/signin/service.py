"""Sign-in by a code sent by email or by SMS, browser sessions and the send limits.

- A code goes to an *address*: an email, or a phone in E.164 (``wallet.phones``). The
  ``signin_code.email`` column holds either (an E.164 number never contains "@", so the
  two cannot meet); SMS codes are queued in the same transaction (``wallet.sms``).

- A code is six digits, valid 10 minutes, kept as a hash; five wrong tries lock it, and a
  new code replaces any earlier one of the same address.
- Sends are limited per address (3 in 15 minutes) and per IP (20 an hour), counted in
  ``signin_send_event``, so the form cannot be used to flood a mailbox or the SMTP relay.
- An unknown address gets the same reply as a member's and no mail: the form does not
  tell who is a member.
- A session is a random token in an HttpOnly cookie; only its SHA-256 is stored.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

import msgspec

from wallet import codes, db
from wallet.auth import service as auth
from wallet.auth import till_sessions
from wallet.errors import WrongCode
from wallet.members import service as members
from wallet.signin import limits, queries
from wallet.signin.tables import PageSession, SignInCode

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
CODE_MAX_TRIES = 5
SENDS_PER_ADDRESS = 3
ADDRESS_WINDOW = timedelta(minutes=15)
SENDS_PER_IP = 20
IP_WINDOW = timedelta(hours=1)
SESSION_TTL = timedelta(days=90)


class Session(msgspec.Struct, frozen=True):
    id: int
    member_id: int
    account_id: int


class CodeRefused(WrongCode):
    """A wrong code; ``left`` tries remain (0: locked)."""

    def __init__(self, left: int) -> None:
        super().__init__("the code is wrong", {"tries_left": left})
        self.left = left


def normal_email(email: str) -> str:
    return email.strip().lower()


def _hash(email: str, code: str) -> str:
    return codes.sha256_hex(f"signin:{email}:{code}")


async def request_code(*, email: str, ip: str, now: datetime) -> str | None:
    """Make a code for ``email`` if it belongs to a member; the code to send, or None.

    Raises ``TooManyAttempts`` when the address or the IP asked too often. Runs in the
    caller's transaction; the caller sends the mail after commit.
    """
    email = normal_email(email)
    await limits.take(
        [
            limits.Limit(
                f"email:{email}",
                SENDS_PER_ADDRESS,
                ADDRESS_WINDOW,
                "too many codes asked for this address",
            ),
            limits.Limit(
                f"ip:{ip}", SENDS_PER_IP, IP_WINDOW, "too many codes asked from this address"
            ),
        ],
        now=now,
    )
    member_id = await auth.member_ids_by_email(email)
    if member_id is None:
        return None
    return await new_code(email=email, member_id=member_id, now=now)


def address_of(raw: str) -> str | None:
    """The address a sign-in form or API call names: a lower-cased email, or a phone in
    E.164; None when it is neither."""
    from wallet import phones

    text = raw.strip()
    if "@" in text:
        return normal_email(text)[:254]
    return phones.parse(text)


def is_phone(address: str) -> bool:
    return address.startswith("+")


SMS_TEXT = {
    "ru": "Код входа: {code}. Действует 10 минут. Никому его не сообщайте.",
    "en": "Sign-in code: {code}. Valid for 10 minutes. Do not share it.",
}


async def request_phone_code(
    *, phone: str, ip: str | None, now: datetime, lang: str = "ru"
) -> bool:
    """Queue an SMS code to ``phone`` (E.164) if it is a member's; whether one was queued
    (the caller answers the same either way). The same limits as for email, per number
    and per IP. In the caller's write transaction: the SMS leaves after commit."""
    from wallet.members.tables import Member
    from wallet.sms import service as sms

    taken = [
        limits.Limit(
            f"phone:{phone}",
            SENDS_PER_ADDRESS,
            ADDRESS_WINDOW,
            "too many codes asked for this number",
        )
    ]
    if ip is not None:  # None: a till's enrolment (a chain's tills share addresses)
        taken.append(
            limits.Limit(
                f"ip:{ip}", SENDS_PER_IP, IP_WINDOW, "too many codes asked from this address"
            )
        )
    await limits.take(taken, now=now)
    row = (
        await Member.select(Member.id, Member.language)
        .where((Member.phone == phone) & Member.erased_at.is_null())
        .first()
    )
    if row is None:
        return False
    code = await new_code(email=phone, member_id=int(row["id"]), now=now)
    text = SMS_TEXT.get(row["language"] or lang, SMS_TEXT["ru"]).format(code=code)
    await sms.queue(phone=phone, text=text, kind="signin", now=now)
    return True


async def new_code(*, email: str, member_id: int, now: datetime) -> str:
    """A fresh code for the member's ``email``, replacing any earlier one (no limits
    checked: the caller counted the send)."""
    email = normal_email(email)
    await SignInCode.update({SignInCode.used_at: now}).where(
        (SignInCode.email == email) & SignInCode.used_at.is_null()
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    await SignInCode.insert(
        SignInCode(
            email=email,
            code_hash=_hash(email, code),
            member_id=member_id,
            expires_at=now + CODE_TTL,
            created_at=now,
        )
    )
    return code


async def check_code(*, email: str, code: str, now: datetime) -> int:
    """The member the code signs in. Every try is counted before the code is compared, in
    one conditional UPDATE, so concurrent guesses cannot pass the limit (a wrong try is
    committed by the caller even though this raises: call it through ``verify_code``)."""
    email = normal_email(email)
    code = "".join(ch for ch in code if ch.isdigit())
    rows = await db.fetch(queries.TRY_CODE, email, CODE_MAX_TRIES, now)
    if not rows:
        raise CodeRefused(0)
    row = rows[0]
    if not codes.same_secret(_hash(email, code), row["code_hash"]):
        raise CodeRefused(CODE_MAX_TRIES - row["attempts"])
    used = await db.fetch(queries.USE_CODE, now, row["id"])
    if not used:  # a concurrent request signed in with it first: a code signs in once
        raise CodeRefused(0)
    return int(row["member_id"])


async def verify_code(*, email: str, code: str, now: datetime) -> tuple[Session, str]:
    """Sign in with a code: a new session and its cookie token. A wrong try is recorded."""
    refused: CodeRefused | None = None
    async with db.write_transaction():
        try:
            member_id = await check_code(email=email, code=code, now=now)
        except CodeRefused as exc:
            refused = exc
        else:
            return await open_session(member_id, now=now)
    raise refused


async def open_session(member_id: int, *, now: datetime) -> tuple[Session, str]:
    """A new browser session for the member, in the caller's transaction."""
    member = await members.member(member_id)
    token = secrets.token_urlsafe(32)
    rows = await PageSession.insert(
        PageSession(
            token_hash=codes.sha256_hex(token),
            member_id=member_id,
            account_id=member["account_id"],
            expires_at=now + SESSION_TTL,
            created_at=now,
        )
    ).returning(PageSession.id)
    return Session(id=rows[0]["id"], member_id=member_id, account_id=member["account_id"]), token


async def session(token: str, *, now: datetime) -> Session | None:
    """The live session behind a cookie token, or None."""
    if not token or len(token) > 100:
        return None
    digest = codes.sha256_hex(token)
    row = (
        await PageSession.select(
            PageSession.id,
            PageSession.token_hash,
            PageSession.member_id,
            PageSession.account_id,
            PageSession.expires_at,
        )
        .where((PageSession.token_hash == digest) & PageSession.revoked_at.is_null())
        .first()
    )
    if row is None or row["expires_at"] <= now or not codes.same_secret(row["token_hash"], digest):
        return None
    return Session(id=row["id"], member_id=row["member_id"], account_id=row["account_id"])


async def close_session(token: str, *, now: datetime) -> None:
    await PageSession.update({PageSession.revoked_at: now}).where(
        PageSession.token_hash == codes.sha256_hex(token)
    )


async def forget_member(member_id: int, *, email: str | None, now: datetime) -> None:
    """Erasure: every browser session of the member ends and their unused codes stop
    working (the codes name the address, which is personal data)."""
    await PageSession.update({PageSession.revoked_at: now}).where(
        (PageSession.member_id == member_id) & PageSession.revoked_at.is_null()
    )
    await SignInCode.delete().where(SignInCode.member_id == member_id)
    if email:
        await SignInCode.delete().where(SignInCode.email == normal_email(email))


async def last_seen(member_ids: list[int]) -> dict[int, datetime]:
    """When each member last signed in on the pages (the retention rule's activity)."""
    seen: dict[int, datetime] = {}
    for chunk in db.chunks(sorted(set(member_ids))):
        for row in await db.fetch(queries.last_sessions(len(chunk)), *chunk):
            seen[int(row["member_id"])] = row["at"]
    return seen


# Traces kept a day past their use, for an operator looking into "I never got my code".
TRACE_KEEP = timedelta(days=1)


async def prune(*, now: datetime) -> dict[str, int]:
    """Forget sign-in traces that limit or let in nobody any more: send events older than
    their rate windows, expired codes, sessions expired or signed out (each a day after)."""
    from wallet.platform import service as platform

    cutoff = now - TRACE_KEEP - max(ADDRESS_WINDOW, IP_WINDOW)
    return {
        "signin_send_event": await platform.delete_in_batches(
            "signin_send_event", "created_at < $1", cutoff
        ),
        "signin_code": await platform.delete_in_batches(
            "signin_code", "expires_at < $1", now - TRACE_KEEP
        ),
        "page_session": await platform.delete_in_batches(
            "page_session", "expires_at < $1 OR revoked_at < $1", now - TRACE_KEEP
        ),
        "till_session": await till_sessions.prune(before=now - TRACE_KEEP),
    }
