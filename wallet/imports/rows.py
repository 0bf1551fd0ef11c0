"""The columns of each import file and how one row is read, without the database.

A row either becomes a typed row or a list of ``Problem`` (line, field, reason): every bad
field of every bad row is reported, so an operator fixes the file once. Times without a
zone are the program's time zone (the old program's exports are local time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import msgspec

from wallet import codes, phones
from wallet import settings as settings_module

KINDS = ("members", "cards", "balances", "receipts")

# Required and optional columns of each kind (header names, case-insensitive).
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "members": (
        ("old_id", "joined_at"),
        (
            "name",
            "phone",
            "email",
            "birthday",
            "consent_program_at",
            "consent_data_at",
            "consent_version",
            "marketing_email",
            "marketing_email_at",
            "marketing_push",
            "marketing_push_at",
            "language",
        ),
    ),
    "cards": (
        ("old_id", "number", "kind"),
        ("member_old_id", "status", "role", "holder_name", "issued_at"),
    ),
    "balances": (("old_id", "member_old_id", "points", "expires_at"), ("earned_at",)),
    "receipts": (("old_id", "member_old_id", "occurred_at", "paid"), ("category",)),
}

MAX_OLD_ID = 64
MAX_POINTS = 10_000_000
MAX_KOPECKS = 100_000_000_00


class Problem(msgspec.Struct, frozen=True):
    """One bad field of one row: what the dry run and a refused import report."""

    line: int
    field: str
    reason: str


@dataclass(frozen=True)
class MemberRow:
    line: int
    old_id: str
    name: str
    phone: str | None
    email: str | None
    birthday: date | None
    joined_at: datetime
    consent_program_at: datetime
    consent_data_at: datetime
    consent_version: str
    marketing_email_at: datetime | None
    marketing_push_at: datetime | None
    language: str


@dataclass(frozen=True)
class CardRow:
    line: int
    old_id: str
    member_old_id: str | None
    number: str
    kind: str
    status: str
    role: str
    holder_name: str
    issued_at: datetime


@dataclass(frozen=True)
class BalanceRow:
    line: int
    old_id: str
    member_old_id: str
    points: int
    earned_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ReceiptRow:
    line: int
    old_id: str
    member_old_id: str
    occurred_at: datetime
    paid_kopecks: int
    category: str


Row = MemberRow | CardRow | BalanceRow | ReceiptRow

_RU_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
)
# No control characters, no U+FFFD (a byte the file's encoding does not define).
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f-\x9f\ufffd]*$")
_TRUE = {"1", "true", "yes", "y", "да", "д", "+"}
_FALSE = {"", "0", "false", "no", "n", "нет", "н", "-"}


class _Bad(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def header(kind: str, fields: list[str]) -> tuple[dict[str, int], list[Problem]]:
    """Which column each known name is in; a missing required column is a problem of line
    1 (the file cannot be read at all)."""
    required, optional = COLUMNS[kind]
    names = [field.strip().lower().lstrip("\ufeff") for field in fields]
    index = {name: i for i, name in enumerate(names) if name in required + optional}
    problems = [
        Problem(line=1, field=name, reason="required column is missing")
        for name in required
        if name not in index
    ]
    return index, problems


def _moment(text: str) -> datetime:
    text = text.strip()
    found = _RU_DATE.match(text)
    try:
        if found:
            d, m, y, hh, mm, ss = found.groups()
            value = datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        else:
            value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _Bad("not a date and time (2024-03-01 10:00 or 01.03.2024 10:00)") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings_module.get().tz)
    return value


class _Reader:
    """One row's fields by name, collecting a problem per bad field."""

    def __init__(self, line: int, fields: list[str], index: dict[str, int]) -> None:
        self.line, self.fields, self.index = line, fields, index
        self.problems: list[Problem] = []

    def text(self, name: str) -> str:
        i = self.index.get(name)
        return self.fields[i].strip() if i is not None and i < len(self.fields) else ""

    def bad(self, name: str, reason: str) -> None:
        self.problems.append(Problem(line=self.line, field=name, reason=reason))

    def old_id(self, name: str = "old_id", *, required: bool = True) -> str | None:
        value = self.text(name)
        if not value:
            if required:
                self.bad(name, "required")
            return None
        if len(value) > MAX_OLD_ID or not _PRINTABLE.match(value):
            self.bad(name, f"more than {MAX_OLD_ID} characters or a control character")
            return None
        return value

    def moment(self, name: str, *, default: datetime | None = None) -> datetime | None:
        value = self.text(name)
        if not value:
            if default is None:
                self.bad(name, "required")
            return default
        try:
            return _moment(value)
        except _Bad as exc:
            self.bad(name, exc.reason)
            return None

    def past(self, name: str, now: datetime, *, default: datetime | None = None) -> datetime | None:
        """A time not in the future (a default, another field's value, is not checked
        twice)."""
        if not self.text(name) and default is not None:
            return default
        value = self.moment(name, default=default)
        if value is not None and value > now:
            self.bad(name, "in the future")
            return None
        return value

    def flag(self, name: str) -> bool:
        value = self.text(name).lower()
        if value in _TRUE:
            return True
        if value not in _FALSE:
            self.bad(name, "not a yes/no value (1/0, true/false, да/нет)")
        return False

    def choice(self, name: str, allowed: tuple[str, ...], default: str = "") -> str:
        value = self.text(name).lower() or default
        if value not in allowed:
            self.bad(name, f"must be one of {', '.join(allowed)}")
        return value

    def line_text(self, name: str, limit: int) -> str:
        value = self.text(name)
        if len(value) > limit or not _PRINTABLE.match(value):
            self.bad(name, f"more than {limit} characters or a control character")
        return value


def read(
    kind: str, line: int, fields: list[str], index: dict[str, int], now: datetime
) -> Row | list[Problem]:
    """One data row of ``kind``: the typed row, or every problem it has."""
    r = _Reader(line, fields, index)
    row: Row | None = None
    if kind == "members":
        row = _member(r, now)
    elif kind == "cards":
        row = _card(r, now)
    elif kind == "balances":
        row = _balance(r, now)
    else:
        row = _receipt(r, now)
    return r.problems if r.problems or row is None else row


def _member(r: _Reader, now: datetime) -> MemberRow | None:
    old_id = r.old_id()
    name = r.line_text("name", 200)
    phone = None
    if raw := r.text("phone"):
        phone = phones.parse(raw)
        if phone is None:
            r.bad("phone", "not a valid phone number")
    email = r.text("email").lower() or None
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        r.bad("email", "not an email address")
    birthday = None
    if r.text("birthday"):
        moment = r.past("birthday", now)
        birthday = moment.date() if moment else None
        if birthday is not None and birthday.year < 1900:
            r.bad("birthday", "before 1900")
    joined_at = r.past("joined_at", now)

    def since_joining(name: str) -> datetime | None:
        # Consents default to the joining time; a bad joining time is reported once.
        if joined_at is None and not r.text(name):
            return None
        return r.past(name, now, default=joined_at)

    program_at = since_joining("consent_program_at")
    data_at = since_joining("consent_data_at")
    version = r.line_text("consent_version", 32) or "migration"
    marketing_email_at = marketing_push_at = None
    if r.flag("marketing_email"):
        marketing_email_at = since_joining("marketing_email_at")
    if r.flag("marketing_push"):
        marketing_push_at = since_joining("marketing_push_at")
    language = r.choice("language", ("ru", "en"), "ru")
    if old_id is None or joined_at is None or program_at is None or data_at is None:
        return None
    return MemberRow(
        line=r.line,
        old_id=old_id,
        name=name,
        phone=phone,
        email=email,
        birthday=birthday,
        joined_at=joined_at,
        consent_program_at=program_at,
        consent_data_at=data_at,
        consent_version=version,
        marketing_email_at=marketing_email_at,
        marketing_push_at=marketing_push_at,
        language=language,
    )


def _card(r: _Reader, now: datetime) -> CardRow | None:
    old_id = r.old_id()
    member_old_id = r.old_id("member_old_id", required=False)
    number = re.sub(r"[\s-]", "", r.text("number"))
    if not number:
        r.bad("number", "required")
    elif not codes.is_valid_card_number(number):
        r.bad("number", "not a card number: 16 digits with a valid check digit")
    kind = r.choice("kind", ("virtual", "plastic"))
    status = r.choice("status", ("active", "blocked"), "active")
    role = r.choice("role", ("main", "family"), "main")
    if member_old_id is None and kind == "virtual":
        r.bad("member_old_id", "a virtual card belongs to a member")
    holder = r.line_text("holder_name", 200)
    issued_at = r.past("issued_at", now, default=now)
    if old_id is None or issued_at is None:
        return None
    return CardRow(
        line=r.line,
        old_id=old_id,
        member_old_id=member_old_id,
        number=number,
        kind=kind,
        status=status,
        role=role,
        holder_name=holder,
        issued_at=issued_at,
    )


def _balance(r: _Reader, now: datetime) -> BalanceRow | None:
    old_id = r.old_id()
    member_old_id = r.old_id("member_old_id")
    points = 0
    text = r.text("points").replace(" ", "").replace("\u00a0", "")
    if not text:
        r.bad("points", "required")
    elif not re.fullmatch(r"[+-]?\d{1,12}", text):
        r.bad("points", "not a whole number of points")
    else:
        points = int(text)
        if points < 0:
            r.bad("points", "a negative opening balance")
        elif points == 0:
            r.bad("points", "0 points: leave the row out")
        elif points > MAX_POINTS:
            r.bad("points", f"more than {MAX_POINTS} points")
    earned_at = r.past("earned_at", now, default=now)
    expires_at = r.moment("expires_at")
    if expires_at is not None and expires_at <= now:
        r.bad("expires_at", "in the past: these points have already expired")
    if old_id is None or member_old_id is None or earned_at is None or expires_at is None:
        return None
    return BalanceRow(
        line=r.line,
        old_id=old_id,
        member_old_id=member_old_id,
        points=points,
        earned_at=earned_at,
        expires_at=expires_at,
    )


def _receipt(r: _Reader, now: datetime) -> ReceiptRow | None:
    old_id = r.old_id()
    member_old_id = r.old_id("member_old_id")
    occurred_at = r.past("occurred_at", now)
    kopecks = 0
    text = r.text("paid").replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        amount = Decimal(text)
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
        kopecks = int(amount * 100)
        if kopecks < 0:
            r.bad("paid", "negative")
        elif kopecks > MAX_KOPECKS:
            r.bad("paid", "more than 100,000,000 roubles")
    except InvalidOperation:
        r.bad("paid", "not an amount of roubles (1234.50 or 1234,50)")
    category = r.line_text("category", 64)
    if old_id is None or member_old_id is None or occurred_at is None:
        return None
    return ReceiptRow(
        line=r.line,
        old_id=old_id,
        member_old_id=member_old_id,
        occurred_at=occurred_at,
        paid_kopecks=kopecks,
        category=category,
    )
