"""Plastic cards: print a batch, then let a shopper claim one with its scratch code.

A plastic card is a real card from the moment it is printed: it has its own account and
earns at the till while nobody owns it. Activation moves the card and everything its
account holds (lots, pending points, debt, spend) onto the shopper's account.

Guessing is bounded twice: five wrong codes on one card lock that card for an hour, and
ten wrong tries by one shopper in a day stop that shopper, so neither one card nor a sweep
across many numbers can be brute-forced through the page or the API.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import msgspec

from wallet import codes, db
from wallet.errors import (
    CardAlreadyActivated,
    DomainError,
    InvalidInput,
    TooManyAttempts,
    WrongCode,
)
from wallet.ledger import service as ledger
from wallet.members import service as members
from wallet.members.service import CardInfo
from wallet.plastic.tables import ActivationFailure, PlasticCode
from wallet.platform import service as platform

CODE_DIGITS = 10
CARD_MAX_FAILURES = 5
CARD_LOCK = timedelta(hours=1)
ACCOUNT_MAX_FAILURES = 10
ACCOUNT_WINDOW = timedelta(hours=24)


class Printed(msgspec.Struct, frozen=True):
    number: str
    code: str


def _code_hash(number: str, code: str) -> str:
    # Keyed with the server secret: ten digits are few enough that a plain hash could be
    # reversed offline from a leaked database; an HMAC cannot without the key.
    return codes.mac("plastic-code", f"{number}:{code}")


def _new_number(prefix: str) -> str:
    body = prefix + "".join(
        secrets.choice("0123456789") for _ in range(codes.CARD_LENGTH - len(prefix) - 1)
    )
    return body + codes.luhn_check_digit(body)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


async def create_batch(*, count: int, prefix: str, batch: str, now: datetime) -> list[Printed]:
    """``count`` anonymous plastic cards with their activation codes, in the caller's
    transaction. The codes are returned once for printing and kept only as hashes."""
    if not 1 <= count <= 100_000:
        raise InvalidInput("count must be between 1 and 100000", {"count": count})
    if not prefix.isdigit() or not 1 <= len(prefix) <= 8:
        raise InvalidInput("prefix must be 1 to 8 digits", {"prefix": prefix})
    printed: list[Printed] = []
    while len(printed) < count:
        number = _new_number(prefix)
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        try:
            card = await members.create_anonymous_plastic_card(number=number, now=now)
        except DomainError as exc:  # the number is taken: draw another
            if exc.code == "conflict":
                continue
            raise
        await PlasticCode.insert(
            PlasticCode(
                card_id=card.id,
                card_number=number,
                code_hash=_code_hash(number, code),
                batch=batch,
                created_at=now,
            )
        )
        printed.append(Printed(number=number, code=code))
    return printed


async def _fail(account_id: int, number: str, row_id: int | None, *, now: datetime) -> None:
    await ActivationFailure.insert(
        ActivationFailure(account_id=account_id, card_number=number[:20], created_at=now)
    )
    if row_id is None:
        return
    await PlasticCode.update({PlasticCode.failed_attempts: PlasticCode.failed_attempts + 1}).where(
        PlasticCode.id == row_id
    )
    row = (
        await PlasticCode.select(PlasticCode.failed_attempts)
        .where(PlasticCode.id == row_id)
        .first()
    )
    if row is not None and row["failed_attempts"] >= CARD_MAX_FAILURES:
        await PlasticCode.update(
            {PlasticCode.failed_attempts: 0, PlasticCode.locked_until: now + CARD_LOCK}
        ).where(PlasticCode.id == row_id)


async def activate(
    *, account_id: int, number: str, code: str, actor: str, now: datetime
) -> CardInfo:
    """Claim a plastic card for the shopper's account with its scratch code.

    Runs its own transactions: a wrong code is recorded (and counts towards the locks)
    even though the call fails.
    """
    number, code = _digits(number), _digits(code)
    refusal: DomainError | None = None
    card: CardInfo | None = None
    async with db.write_transaction():
        failures = await ActivationFailure.count().where(
            (ActivationFailure.account_id == account_id)
            & (ActivationFailure.created_at > now - ACCOUNT_WINDOW)
        )
        if failures >= ACCOUNT_MAX_FAILURES:
            raise TooManyAttempts(
                "too many wrong card numbers or codes today; try again tomorrow",
                {"retry_after_seconds": int(ACCOUNT_WINDOW.total_seconds())},
            )
        row = await PlasticCode.select().where(PlasticCode.card_number == number).first()
        if row is not None and row["locked_until"] is not None and row["locked_until"] > now:
            raise TooManyAttempts(
                "this card had too many wrong codes; try again in an hour",
                {"retry_after_seconds": int((row["locked_until"] - now).total_seconds())},
            )
        expected = row["code_hash"] if row is not None else _code_hash("0", "0")
        right = codes.same_secret(_code_hash(number, code), expected) and row is not None
        if not right:
            await _fail(account_id, number, row["id"] if row else None, now=now)
            # One message for an unknown number and a wrong code: nothing to enumerate.
            refusal = WrongCode(
                "the card number or the activation code is wrong",
                {"attempts_left_today": max(0, ACCOUNT_MAX_FAILURES - failures - 1)},
            )
        else:
            assert row is not None
            card = await _claim(row, account_id=account_id, actor=actor, now=now)
    if refusal is not None:
        raise refusal
    assert card is not None
    return card


async def _claim(row: dict[str, object], *, account_id: int, actor: str, now: datetime) -> CardInfo:
    number = str(row["card_number"])
    if row["activated_at"] is not None:
        raise CardAlreadyActivated(f"card {number} is already activated", {"number": number})
    card = await members.find_card_by_id(int(str(row["card_id"])))
    if card.account_id == account_id or not await members.is_anonymous(card):
        raise CardAlreadyActivated(f"card {number} is already activated", {"number": number})
    owner = await members.member_of_account(account_id)
    if owner is None:
        raise InvalidInput("only a member's account can take a plastic card")
    # The conditional update is the claim: of two shoppers racing, one row changes.
    claimed = (
        await PlasticCode.update(
            {PlasticCode.activated_at: now, PlasticCode.activated_account_id: account_id}
        )
        .where((PlasticCode.id == row["id"]) & PlasticCode.activated_at.is_null())
        .returning(PlasticCode.id)
    )
    if not claimed:
        raise CardAlreadyActivated(f"card {number} is already activated", {"number": number})
    merged = await ledger.merge_accounts(
        card.account_id,
        account_id,
        now=now,
        actor=actor,
        reason=f"points of plastic card {number}",
    )
    moved = await members.move_card_to_account(
        card.id, account_id, role="twin", holder_name=owner["name"], actor=actor
    )
    await platform.audit(
        actor=actor,
        action="card.activate",
        subject=f"card:{number}",
        details={
            "account_id": account_id,
            "from_account": card.account_id,
            "points": merged.balance,
            "pending": merged.pending,
            "debt": merged.debt,
        },
    )
    return moved
