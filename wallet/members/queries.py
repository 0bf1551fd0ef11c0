"""Every hand-written statement of members (cards, people and their consents), named
(``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

import functools

from wallet import db

_CARD = (
    "SELECT id, number, account AS account_id, kind, role, status, holder_name, "
    "replaced_by, pass_serial FROM card"
)

CARD_BY_NUMBER = db.sql(f"{_CARD} WHERE number = $1")
"""A card by its number (the till's hot path: a prepared statement)."""


@functools.lru_cache(maxsize=64)
def cards_of_accounts(count: int) -> db.Sql:
    """The cards of ``count`` accounts, in id order."""
    return db.sql(f"{_CARD} WHERE account IN ({db.marks(count)}) ORDER BY id")


def current_consent(member_column: str, channel: str) -> str:
    """The id of the member's latest granted consent row of ``channel``, as a subquery (a
    delivery made for a member with the marketing flag on names the row that turned it
    on). ``channel`` is one of ours, never the caller's text."""
    return (
        f"(SELECT MAX(c.id) FROM member_consent c WHERE c.member_id = {member_column} "
        f"AND c.channel = '{channel}' AND c.granted)"
    )


ERASE = db.sql(
    "UPDATE member SET name = '', email = NULL, phone = NULL, birthday = NULL, "
    "marketing_email = false, marketing_email_at = $1, marketing_push = false, "
    "marketing_push_at = $1, marketing_sms = false, marketing_sms_at = $1, erased_at = $1 WHERE id = $2 AND erased_at IS NULL "
    "RETURNING id"
)
"""The person removed; the row stays locked by this UPDATE until commit, so a concurrent
erase waits, then finds ``erased_at`` set and changes nothing."""

LIVE_MEMBERS = db.sql(
    "SELECT id AS member_id, account AS account_id, name, email, phone FROM member "
    "WHERE erased_at IS NULL ORDER BY id"
)
"""SQLite's name search: its lower() and LIKE fold ASCII only, and the names are Cyrillic,
so the names are folded in Python instead (a scan: correct, slower than PostgreSQL's)."""

MEMBERS_BY_NAME = db.sql(
    "SELECT id AS member_id, account AS account_id, name, email, phone FROM member "
    "WHERE erased_at IS NULL AND lower(name) LIKE $1 ORDER BY id LIMIT $2"
)
"""PostgreSQL: answered from the trigram index on lower(name) (migration
members_2026_11_30t14_13); $1 is a LIKE pattern."""


MEMBER_IMPORT_COLUMNS = (
    "account, name, email, phone, birthday, consent_program_at, consent_program_version, "
    "consent_data_at, consent_data_version, marketing_email, marketing_email_at, "
    "marketing_push, marketing_push_at, language, created_at"
)


def insert_members(rows: int) -> str:
    """SQLite: ``rows`` members brought from an old program (``MEMBER_IMPORT_COLUMNS``),
    with the account each belongs to (to match the new ids to the rows)."""
    return (
        f"INSERT INTO member ({MEMBER_IMPORT_COLUMNS}) VALUES {db.rows(rows, 15)} "
        "RETURNING id, account"
    )


INSERT_MEMBERS = db.sql(
    f"INSERT INTO member ({MEMBER_IMPORT_COLUMNS}) SELECT * FROM unnest($1::int[], "
    "$2::text[], $3::text[], $4::text[], $5::date[], $6::timestamptz[], $7::text[], "
    "$8::timestamptz[], $9::text[], $10::bool[], $11::timestamptz[], $12::bool[], "
    "$13::timestamptz[], $14::text[], $15::timestamptz[]) RETURNING id, account"
)
"""PostgreSQL: ``insert_members`` with one array per column."""

_CONSENT_COLUMNS = "member_id, channel, granted, text_version, source, created_at"


def insert_consents(rows: int) -> str:
    """SQLite: ``rows`` consent rows (member, channel, granted, version, source, at)."""
    return f"INSERT INTO member_consent ({_CONSENT_COLUMNS}) VALUES {db.rows(rows, 6)}"


INSERT_CONSENTS = db.sql(
    f"INSERT INTO member_consent ({_CONSENT_COLUMNS}) SELECT * FROM unnest($1::int[], "
    "$2::text[], $3::bool[], $4::text[], $5::text[], $6::timestamptz[])"
)
"""PostgreSQL: ``insert_consents`` with one array per column."""

_CARD_COLUMNS = "number, account, kind, role, status, holder_name, pass_serial, created_at"


def insert_cards(rows: int) -> str:
    """SQLite: ``rows`` cards (number, account, kind, role, status, holder, pass serial,
    at)."""
    return f"INSERT INTO card ({_CARD_COLUMNS}) VALUES {db.rows(rows, 8)} RETURNING id, number"


INSERT_CARDS = db.sql(
    f"INSERT INTO card ({_CARD_COLUMNS}) SELECT * FROM unnest($1::text[], $2::int[], "
    "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[]) "
    "RETURNING id, number"
)
"""PostgreSQL: ``insert_cards`` with one array per column."""


def _in(column: str, count: int) -> str:
    return f"{column} IN ({', '.join(f'${n}' for n in range(1, count + 1))})"


def phones_taken(count: int) -> str:
    """SQLite: which of ``count`` phones (E.164) a member already has."""
    return f"SELECT phone AS value FROM member WHERE {_in('phone', count)}"


PHONES_TAKEN = db.sql("SELECT phone AS value FROM member WHERE phone = ANY($1::text[])")


def emails_taken(count: int) -> str:
    """SQLite: which of ``count`` emails a member already has."""
    return f"SELECT email AS value FROM member WHERE {_in('email', count)}"


EMAILS_TAKEN = db.sql("SELECT email AS value FROM member WHERE email = ANY($1::text[])")


def numbers_taken(count: int) -> str:
    """SQLite: which of ``count`` card numbers exist."""
    return f"SELECT number AS value FROM card WHERE {_in('number', count)}"


NUMBERS_TAKEN = db.sql("SELECT number AS value FROM card WHERE number = ANY($1::text[])")
