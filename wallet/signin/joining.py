"""Joining from outside (the API's enrolment and the ``/join`` page), safe to expose to
strangers.

- A new contact gets a member, an account and a card in one step.
- A contact that is already a member gets no card, account or token: the member is
  emailed a sign-in code (``signin.service``) and the caller is told a code was sent,
  so the form neither hands out someone's card nor answers "already a member" (409).
- Enrolments are limited per email and phone (``ENROLS_PER_CONTACT`` an hour), member or
  not, and per client IP (``WALLET_ENROL_LIMIT_PER_IP`` an hour; not for till keys, since a
  chain's tills share addresses). The counts and the member lookup run under a lock on
  each key (``signin.limits``), so simultaneous requests neither pass the limits nor race
  each other into a duplicate member.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import msgspec

from wallet import settings as settings_module
from wallet.errors import TooManyAttempts
from wallet.members import service as members
from wallet.members.schemas import EnrolIn
from wallet.members.tables import Member
from wallet.signin import limits
from wallet.signin import service as signin

log = logging.getLogger(__name__)
ENROLS_PER_CONTACT = 5
WINDOW = timedelta(hours=1)


class Joined(msgspec.Struct, frozen=True):
    """What a join did. This is what an ``Idempotency-Key`` retry gets back: never a
    token or a code. ``code_sent`` is set when the contact was already a member."""

    card_number: str | None = None
    account_id: int | None = None
    member_id: int | None = None
    code_sent: bool = False
    # The address the code went to, only when the caller gave that very address.
    sent_to: str | None = None


class Outcome(msgspec.Struct, frozen=True):
    joined: Joined
    # A sign-in code to mail to ``mail_to`` after commit (never kept).
    code: str | None = None
    mail_to: str | None = None


def _limits(data: EnrolIn, ip: str | None) -> list[limits.Limit]:
    found = []
    if data.email:
        found.append(
            limits.Limit(
                f"enrol:email:{signin.normal_email(data.email)}",
                ENROLS_PER_CONTACT,
                WINDOW,
                "too many enrolments with this email; try again later",
            )
        )
    if data.phone:
        found.append(
            limits.Limit(
                f"enrol:phone:{data.phone}",
                ENROLS_PER_CONTACT,
                WINDOW,
                "too many enrolments with this phone; try again later",
            )
        )
    per_ip = settings_module.get().enrol_limit_per_ip
    if ip is not None and per_ip > 0:
        found.append(
            limits.Limit(f"enrol:ip:{ip}", per_ip, WINDOW, "too many enrolments from this address")
        )
    return found


async def _existing(email: str | None, phone: str | None) -> tuple[int, str | None] | None:
    where = []
    if email:
        where.append(Member.email == email)
    if phone:
        where.append(Member.phone == phone)
    if not where:
        return None
    condition = where[0] if len(where) == 1 else where[0] | where[1]
    row = await Member.select(Member.id, Member.email).where(condition).first()
    return None if row is None else (int(row["id"]), row["email"])


async def join(data: EnrolIn, *, ip: str | None, now: datetime) -> Outcome:
    """Enrol a new contact, or send a member a sign-in code; in the caller's write
    transaction (mail the code after commit). ``ip`` None: a till enrols, no per-IP limit.
    Raises ``TooManyAttempts`` with ``retry_after_seconds``."""
    # Before the limits and the member lookup: "8 912..." and "+7912..." are one contact.
    data = members.with_normal_phone(data)
    members.check_enrolment(data, now=now)
    await limits.take(_limits(data, ip), now=now)
    email = signin.normal_email(data.email) if data.email else None
    found = await _existing(email, data.phone)
    if found is None:
        enrolled = await members.enrol(data, now=now)
        return Outcome(
            Joined(
                card_number=enrolled.card.number,
                account_id=enrolled.account_id,
                member_id=enrolled.member_id,
            )
        )
    member_id, member_email = found
    sent_to = email if email and email == member_email else None
    joined = Joined(code_sent=True, sent_to=sent_to)
    if member_email is None:
        if data.phone:
            # A member known by phone only: the code goes by SMS (queued with it, so it
            # leaves after commit). A full send allowance is not told apart either.
            try:
                await signin.request_phone_code(
                    phone=data.phone, ip=ip, now=now, lang=data.language
                )
            except TooManyAttempts:
                pass
        return Outcome(joined)
    try:
        # The sign-in form's own per-address limit: a full mailbox is not told apart.
        await limits.take(
            [
                limits.Limit(
                    f"email:{member_email}",
                    signin.SENDS_PER_ADDRESS,
                    signin.ADDRESS_WINDOW,
                    "too many codes asked for this address",
                )
            ],
            now=now,
        )
    except TooManyAttempts:
        return Outcome(joined)
    code = await signin.new_code(email=member_email, member_id=member_id, now=now)
    return Outcome(joined, code=code, mail_to=member_email)


async def mail_code(outcome: Outcome, *, lang: str) -> None:
    """Email the sign-in code of a join that found a member (after commit). A failure is
    logged for the operator; the caller's reply does not change."""
    if outcome.code is None or outcome.mail_to is None:
        return
    from wallet.mail import service as mail

    try:
        await mail.send_now(
            to=outcome.mail_to, template="signin_code", lang=lang, context={"code": outcome.code}
        )
    except Exception as exc:
        # Not to whom: logs carry no personal data.
        log.error("could not send a sign-in code on joining: %s", mail.failure(exc))
