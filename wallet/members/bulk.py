"""Members and cards brought in many at once from an old program (``wallet.imports``).

A batch is a few multi-row statements in the caller's transaction, not a round trip per
row: a million members must come in within minutes. Nothing is published: an imported
member did not just join (no welcome bonus, no welcome email), and the old program's
consents keep their own times, recorded with source ``migration``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from wallet import db
from wallet.members import queries

# Member rows per statement: 15 arguments a row, under asyncpg's 32,767.
_MEMBERS_PER_STATEMENT = 2000
_ROWS_PER_STATEMENT = 4000


@dataclass(frozen=True)
class ImportedMember:
    account_id: int
    name: str
    email: str | None
    phone: str | None
    birthday: date | None
    joined_at: datetime
    consent_program_at: datetime
    consent_data_at: datetime
    consent_version: str
    marketing_email_at: datetime | None
    marketing_push_at: datetime | None
    language: str


@dataclass(frozen=True)
class ImportedCard:
    account_id: int
    number: str
    kind: str
    role: str
    status: str
    holder_name: str
    issued_at: datetime


async def insert_members(members: Sequence[ImportedMember]) -> list[int]:
    """The members and their consent trail; their ids, in the order given."""
    by_account: dict[int, int] = {}
    for chunk in db.chunks(list(members), _MEMBERS_PER_STATEMENT):
        args: list[Any] = []
        for m in chunk:
            args += [m.account_id, m.name, m.email, m.phone, m.birthday]
            args += [m.consent_program_at, m.consent_version, m.consent_data_at]
            args += [m.consent_version, m.marketing_email_at is not None, m.marketing_email_at]
            args += [m.marketing_push_at is not None, m.marketing_push_at, m.language]
            args += [m.joined_at]
        for row in await db.fetch(queries.insert_members(len(chunk)), *args):
            by_account[int(row["account"])] = int(row["id"])
    ids = [by_account[m.account_id] for m in members]
    consents: list[tuple[Any, ...]] = []
    for member_id, m in zip(ids, members, strict=True):
        consents.append(
            (member_id, "program", True, m.consent_version, "migration", m.consent_program_at)
        )
        consents.append(
            (member_id, "personal_data", True, m.consent_version, "migration", m.consent_data_at)
        )
        if m.marketing_email_at is not None:
            consents.append(
                (
                    member_id,
                    "marketing_email",
                    True,
                    m.consent_version,
                    "migration",
                    m.marketing_email_at,
                )
            )
        if m.marketing_push_at is not None:
            consents.append(
                (
                    member_id,
                    "marketing_push",
                    True,
                    m.consent_version,
                    "migration",
                    m.marketing_push_at,
                )
            )
    for consent_chunk in db.chunks(consents, _ROWS_PER_STATEMENT):
        flat = [value for row in consent_chunk for value in row]
        await db.fetch(queries.insert_consents(len(consent_chunk)), *flat)
    return ids


async def insert_cards(cards: Sequence[ImportedCard]) -> list[int]:
    """The cards (each with a pass serial of its own); their ids, in the order given."""
    by_number: dict[str, int] = {}
    for chunk in db.chunks(list(cards), _ROWS_PER_STATEMENT):
        args: list[Any] = []
        for c in chunk:
            args += [c.number, c.account_id, c.kind, c.role, c.status, c.holder_name]
            args += [secrets.token_hex(16), c.issued_at]
        for row in await db.fetch(queries.insert_cards(len(chunk)), *args):
            by_number[str(row["number"])] = int(row["id"])
    return [by_number[c.number] for c in cards]


async def _taken(make: Any, values: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in db.chunks(sorted(set(values))):
        found.update(str(row["value"]) for row in await db.fetch(make(len(chunk)), *chunk))
    return found


async def phones_taken(phones: Sequence[str]) -> set[str]:
    """The phones (E.164) among ``phones`` that a member already has."""
    return await _taken(queries.phones_taken, phones)


async def emails_taken(emails: Sequence[str]) -> set[str]:
    """The emails among ``emails`` that a member already has."""
    return await _taken(queries.emails_taken, emails)


async def numbers_taken(numbers: Sequence[str]) -> set[str]:
    """The card numbers among ``numbers`` that exist."""
    return await _taken(queries.numbers_taken, numbers)
