"""Spend confirmation: points spent on a shopper the till found by phone need a code the
shopper gets by SMS (or sees on their /card page).

Why a card reference: a till that found the shopper by phone must not be able to skip the
code by sending the card number as if it had scanned the card. So the phone lookup never
tells the till the card number: its reply's ``card_number`` is a **card reference**
(``ref.`` + a Fernet token: the card number encrypted and authenticated under the server
secret, stamped with its time, good for ``REFERENCE_TTL``). The till sends that
reference as ``card_number`` on quotes, receipts and ``POST /api/v1/pos/spend-codes``
exactly as it would a number; a reference is opaque (the till cannot read the number out
of it) and cannot be forged or stretched past its life. Anything that comes in as a
reference was found by phone, so spending with it needs the code; a scanned card's
16 digits need none. The reply of a quote or receipt made with a reference carries the
reference back, never the number.

The code: six digits, 10 minutes, five tries, one use, for one account (a code asked for
another shopper is simply wrong here). It is not stored: the row keeps a random nonce,
and the code is an HMAC of it under the server secret, so the card page can show it and a
copy of the database does not reveal it. A new ask replaces the code; asks within a
minute send nothing new (a till pressing the button twice). A wrong try is counted in its
own transaction (so a refused receipt still counts it); the right code is used up in the
receipt's own transaction (a receipt refused for another reason leaves it usable), and a
retry of a posted receipt with the same code gets the first reply.

When: ``WALLET_SPEND_CODE`` is ``always`` (any points spent), ``never``, or N (more than N
points spent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec
from cryptography.fernet import Fernet, InvalidToken

from wallet import codes, db
from wallet import settings as settings_module
from wallet.errors import DomainError, InvalidInput, TooManyAttempts
from wallet.members import service as members
from wallet.receipts import queries
from wallet.receipts import service as receipts
from wallet.receipts.schemas import CardStatusOut, QuoteIn, QuoteOut, ReceiptIn, ReceiptOut
from wallet.receipts.tables import SpendCode
from wallet.sms import service as sms

T = TypeVar("T", CardStatusOut, QuoteOut, ReceiptOut)

REFERENCE_PREFIX = "ref."
# A lookup's reference serves one visit to the till: long enough for a slow queue.
REFERENCE_TTL = timedelta(minutes=30)
CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5
# A second ask within this time sends nothing new (the first code is still on its way).
RESEND_AFTER = timedelta(seconds=60)
# Asks per account an hour: each sends an SMS.
ASKS_PER_HOUR = 5


class SpendCodeRequired(DomainError):
    status_code = 422
    code = "spend_code_required"


class SpendCodeWrong(DomainError):
    status_code = 422
    code = "spend_code_wrong"


class CardReferenceInvalid(InvalidInput):
    code = "card_reference_invalid"


class NoPhone(InvalidInput):
    code = "spend_code_unavailable"


# ---- card references ----------------------------------------------------------------


def _fernet() -> Fernet:
    key = hashlib.sha256(codes.secret_key() + b":card-reference").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def is_reference(value: str) -> bool:
    return value.startswith(REFERENCE_PREFIX)


def reference(card_number: str, *, now: datetime) -> str:
    """The opaque reference a phone lookup hands the till instead of ``card_number``."""
    token = _fernet().encrypt_at_time(card_number.encode(), int(now.timestamp()))
    return REFERENCE_PREFIX + token.decode()


def card_of_reference(value: str, *, now: datetime) -> str:
    """The card number behind a reference; 422 ``card_reference_invalid`` when it was not
    made here, was altered, or is older than ``REFERENCE_TTL`` (look the phone up again)."""
    try:
        number = _fernet().decrypt_at_time(
            value.removeprefix(REFERENCE_PREFIX).encode(),
            int(REFERENCE_TTL.total_seconds()),
            int(now.timestamp()),
        )
    except (InvalidToken, ValueError) as exc:
        raise CardReferenceInvalid(
            "this card reference is not valid or has expired; look the shopper up again",
            {"field": "card_number"},
        ) from exc
    return number.decode()


class Resolved:
    """What a till's ``card_number`` stands for: the card number, and whether it came as a
    reference (the shopper was found by phone)."""

    def __init__(self, given: str, *, now: datetime) -> None:
        self.given = given
        self.by_phone = is_reference(given)
        self.number = card_of_reference(given, now=now) if self.by_phone else given

    def shown(self, reply: T) -> T:
        """The reply with the reference in place of the number (a reply to a till that
        found the shopper by phone never reveals the number)."""
        if not self.by_phone:
            return reply
        return msgspec.structs.replace(reply, card_number=self.given)


# ---- codes ----------------------------------------------------------------------------


def needed(by_phone: bool, redeem_points: int) -> bool:
    """Whether spending ``redeem_points`` on a card found this way needs the code."""
    above = settings_module.get().spend_code_above
    return by_phone and redeem_points > 0 and above is not None and redeem_points > above


def _code(row_id: int, nonce: str) -> str:
    digest = hmac.new(
        codes.secret_key(), f"spend-code:{row_id}:{nonce}".encode(), hashlib.sha256
    ).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


async def _latest(account_id: int) -> dict[str, Any] | None:
    rows = await db.fetch(queries.LATEST_SPEND_CODE, account_id)
    return rows[0] if rows else None


async def ask(card_number: str, *, now: datetime) -> None:
    """Make a code for the card's shopper and text it to them (in the caller's write
    transaction: the SMS goes only if the code was committed)."""
    card = await members.usable_card(card_number)
    member = await members.member_of_account(card.account_id)
    if member is None or not member["phone"]:
        raise NoPhone(
            "the shopper has no phone number for a spend code; scan their card",
            {"field": "card_number"},
        )
    latest = await _latest(card.account_id)
    if (
        latest is not None
        and latest["used_at"] is None
        and now - latest["created_at"] < RESEND_AFTER
    ):
        return
    recent = await db.fetch(queries.SPEND_CODES_SINCE, card.account_id, now - timedelta(hours=1))
    if int(recent[0]["n"]) >= ASKS_PER_HOUR:
        raise TooManyAttempts(
            "too many spend codes were asked for this shopper; try again later",
            {"retry_after": 3600},
        )
    nonce = secrets.token_hex(16)
    rows = await SpendCode.insert(
        SpendCode(account_id=card.account_id, nonce=nonce, created_at=now, tries=0)
    ).returning(SpendCode.id)
    code = _code(int(rows[0]["id"]), nonce)
    # A service message: no marketing consent needed, never held by quiet hours.
    await sms.queue(
        phone=member["phone"],
        text=f"Код для списания баллов: {code}. Назовите его только кассиру.",
        kind="spend_code",
        now=now,
    )


async def current(account_id: int, *, now: datetime) -> str | None:
    """The code a shopper may read on their card page: the latest one, if still good."""
    latest = await _latest(account_id)
    if latest is None or not _live(latest, now):
        return None
    return _code(int(latest["id"]), latest["nonce"])


def _live(row: dict[str, Any], now: datetime) -> bool:
    return (
        row["used_at"] is None
        and int(row["tries"]) < MAX_TRIES
        and now - row["created_at"] <= CODE_TTL
    )


async def verify(account_id: int, code: str | None, *, store_key: str, now: datetime) -> int:
    """The id of the account's live code when ``code`` is it (or of the code this very
    receipt already used: a retry); a missing code is ``spend_code_required``, a wrong,
    expired, used-up or tried-out one ``spend_code_wrong`` (a wrong try is counted)."""
    if not code:
        raise SpendCodeRequired(
            "spending points on a shopper found by phone needs the code sent to them by SMS "
            "(POST /api/v1/pos/spend-codes)",
            {"field": "spend_code"},
        )
    latest = await _latest(account_id)
    if latest is None:
        raise SpendCodeWrong("the spend code is wrong or expired", {"field": "spend_code"})
    right = codes.same_secret(code, _code(int(latest["id"]), latest["nonce"]))
    if right and latest["used_at"] is not None and latest["used_for"] == store_key:
        return int(latest["id"])
    if right and _live(latest, now):
        return int(latest["id"])
    if not right and latest["used_at"] is None:
        async with db.write_transaction():
            await db.fetch(queries.SPEND_CODE_WRONG_TRY, int(latest["id"]))
    raise SpendCodeWrong("the spend code is wrong or expired", {"field": "spend_code"})


async def use(code_id: int, *, store_key: str, now: datetime) -> None:
    """In the receipt's transaction: the code is used up by this receipt, once (a receipt
    racing another with the same code finds it gone)."""
    used = await db.fetch(queries.USE_SPEND_CODE, now, store_key, code_id)
    if not used:
        raise SpendCodeWrong("the spend code was already used", {"field": "spend_code"})


# ---- the till's calls, with the card reference and the code ------------------------------


async def identify(given: str, *, now: datetime) -> CardStatusOut:
    found = Resolved(given, now=now)
    return found.shown(await receipts.identify(found.number, now=now))


async def quote(data: QuoteIn, *, store_id: int | None, now: datetime) -> QuoteOut:
    """A quote that spends points on a shopper found by phone checks the code (a wrong
    try counts) without using it up: the receipt uses it."""
    found = Resolved(data.card_number, now=now)
    code = data.spend_code
    data = msgspec.structs.replace(data, card_number=found.number, spend_code=None)
    if needed(found.by_phone, data.redeem_points):
        card = await members.find_card(found.number)
        await verify(card.account_id, code, store_key="", now=now)
    return found.shown(await receipts.quote(data, store_id=store_id, now=now))


async def post_receipt(data: ReceiptIn, *, store_id: int, actor: str, now: datetime) -> ReceiptOut:
    """A receipt that spends points on a shopper found by phone needs the code, used up in
    the receipt's transaction."""
    found = Resolved(data.card_number, now=now)
    code = data.spend_code
    data = msgspec.structs.replace(data, card_number=found.number, spend_code=None)
    confirm = None
    if needed(found.by_phone, data.redeem_points):
        card = await members.find_card(found.number)
        store_key = f"{store_id}:{data.receipt_id}"
        code_id = await verify(card.account_id, code, store_key=store_key, now=now)

        async def confirm(key: str) -> None:
            await use(code_id, store_key=key, now=now)

    reply = await receipts.post_receipt(
        data, store_id=store_id, actor=actor, now=now, confirm=confirm
    )
    return found.shown(reply)
