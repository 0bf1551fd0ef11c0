"""Members and cards brought in many at once from an old program (``wallet.imports``).

A batch is a few multi-row statements in the caller's transaction, not a round trip per
row: a million members must come in within minutes. Nothing is published: an imported
member did not just join (no welcome bonus, no welcome email), and the old program's
consents keep their own times, recorded with source ``migration``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from wallet import db
from wallet.members import queries

# Rows per statement on SQLite: under its 32,766 parameters.
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
    rows = [
        (
            m.account_id,
            m.name,
            m.email,
            m.phone,
            m.birthday,
            m.consent_program_at,
            m.consent_version,
            m.consent_data_at,
            m.consent_version,
            m.marketing_email_at is not None,
            m.marketing_email_at,
            m.marketing_push_at is not None,
            m.marketing_push_at,
            m.language,
            m.joined_at,
        )
        for m in members
    ]
    found = await db.fetch_many(
        rows,
        sqlite=queries.insert_members,
        postgres=queries.INSERT_MEMBERS,
        per_statement=_MEMBERS_PER_STATEMENT,
    )
    by_account = {int(row["account"]): int(row["id"]) for row in found}
    ids = [by_account[m.account_id] for m in members]
    consents: list[tuple[Any, ...]] = []
    for member_id, m in zip(ids, members, strict=True):
        given = [("program", m.consent_program_at), ("personal_data", m.consent_data_at)]
        if m.marketing_email_at is not None:
            given.append(("marketing_email", m.marketing_email_at))
        if m.marketing_push_at is not None:
            given.append(("marketing_push", m.marketing_push_at))
        consents += [
            (member_id, channel, True, m.consent_version, "migration", at) for channel, at in given
        ]
    await db.fetch_many(
        consents,
        sqlite=queries.insert_consents,
        postgres=queries.INSERT_CONSENTS,
        per_statement=_ROWS_PER_STATEMENT,
    )
    return ids


async def insert_cards(cards: Sequence[ImportedCard]) -> list[int]:
    """The cards (each with a pass serial of its own); their ids, in the order given."""
    rows = [
        (
            c.number,
            c.account_id,
            c.kind,
            c.role,
            c.status,
            c.holder_name,
            secrets.token_hex(16),
            c.issued_at,
        )
        for c in cards
    ]
    found = await db.fetch_many(
        rows,
        sqlite=queries.insert_cards,
        postgres=queries.INSERT_CARDS,
        per_statement=_ROWS_PER_STATEMENT,
    )
    by_number = {str(row["number"]): int(row["id"]) for row in found}
    return [by_number[c.number] for c in cards]


async def _taken(values: Sequence[str], sqlite: Callable[[int], str], postgres: db.Sql) -> set[str]:
    found = await db.fetch_in(sorted(set(values)), sqlite=sqlite, postgres=postgres)
    return {str(row["value"]) for row in found}


async def phones_taken(phones: Sequence[str]) -> set[str]:
    """The phones (E.164) among ``phones`` that a member already has."""
    return await _taken(phones, queries.phones_taken, queries.PHONES_TAKEN)


async def emails_taken(emails: Sequence[str]) -> set[str]:
    """The emails among ``emails`` that a member already has."""
    return await _taken(emails, queries.emails_taken, queries.EMAILS_TAKEN)


async def numbers_taken(numbers: Sequence[str]) -> set[str]:
    """The card numbers among ``numbers`` that exist."""
    return await _taken(numbers, queries.numbers_taken, queries.NUMBERS_TAKEN)
