"""Hand-written statements of pass sync, named (``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

import functools

from wallet import db

LOCK_PASS_TAG = db.sql("SELECT tag FROM pass_card WHERE id = $1 {lock}", lock="FOR UPDATE")
"""A pass's current tag, its row locked: a device registering reads the tag under the same
lock a refresh takes to give the pass a new one, so the registration either stores the new
tag or is flagged for its push after it commits."""


# Statements over a list of cards, serials or registrations take its length: each length
# is one prepared statement (``db.chunks`` bounds how many there are).


@functools.lru_cache(maxsize=64)
def cards_with_pass(count: int) -> db.Sql:
    """Which of ``count`` cards have a pass row (were ever served a pass)."""
    return db.sql(f"SELECT card_id FROM pass_card WHERE card_id IN ({db.marks(count)})")


@functools.lru_cache(maxsize=64)
def lock_pass_rows(columns: str, count: int) -> db.Sql:
    """The pass rows of ``count`` cards, locked until commit in id order (two refreshes of
    overlapping accounts wait for each other instead of deadlocking)."""
    return db.sql(
        f"SELECT {columns} FROM pass_card WHERE card_id IN ({db.marks(count)}) ORDER BY id {{lock}}",
        lock="FOR UPDATE",
    )


@functools.lru_cache(maxsize=64)
def google_objects(count: int) -> db.Sql:
    """The saved Google objects of ``count`` cards."""
    return db.sql(
        f"SELECT card_id, object_id FROM google_object WHERE card_id IN ({db.marks(count)})"
    )


@functools.lru_cache(maxsize=64)
def serials_of_cards(count: int) -> db.Sql:
    """The served passes' serials of ``count`` cards."""
    return db.sql(f"SELECT card_id, serial FROM pass_card WHERE card_id IN ({db.marks(count)})")


@functools.lru_cache(maxsize=64)
def registrations_of_serials(count: int) -> db.Sql:
    """The device registrations of ``count`` serials (one row each)."""
    return db.sql(f"SELECT serial FROM pass_registration WHERE serial IN ({db.marks(count)})")


def update_passes(table: str) -> str:
    """The changed pass rows written from a ``db.values_table`` of (id, tag, modified_at,
    fingerprint, account_id, message_id, message_header, message_text)."""
    return (
        "UPDATE pass_card SET tag = v.column2, modified_at = v.column3, "
        "fingerprint = v.column4, account_id = v.column5, message_id = v.column6, "
        f"message_header = v.column7, message_text = v.column8 FROM {table} "
        "WHERE pass_card.id = v.column1"
    )


PASS_UPDATE_TYPES = ("bigint", "bigint", "timestamptz", "text", "bigint", "text", "text", "text")
"""The columns of ``update_passes``' values table, as PostgreSQL is told them."""


@functools.lru_cache(maxsize=64)
def flag_push_due(count: int) -> db.Sql:
    """The devices of ``count`` changed passes are owed a push (flagged once)."""
    return db.sql(
        f"UPDATE pass_registration SET push_due = true WHERE serial IN ({db.marks(count)}) "
        "AND NOT push_due"
    )


CLAIM_DEVICES = db.sql(
    "UPDATE pass_registration SET pushing_until = $1 WHERE id IN ("
    "SELECT r.id FROM pass_registration r "
    "WHERE r.push_due AND (r.pushing_until IS NULL OR r.pushing_until < $2) "
    "ORDER BY r.id LIMIT $3 {lock}) "
    "RETURNING id, push_token, serial, pushed_tag",
    lock="FOR UPDATE OF r SKIP LOCKED",
)
"""A batch of devices owed a push, leased until $1; devices another worker is leasing are
skipped, not waited for (PostgreSQL; SQLite has one writer)."""


@functools.lru_cache(maxsize=64)
def pushed(count: int) -> db.Sql:
    """Devices told of tag $1: still due if their pass changed again meanwhile."""
    return db.sql(
        "UPDATE pass_registration SET pushed_tag = $1, pushing_until = NULL, "
        "push_due = EXISTS (SELECT 1 FROM pass_card p "
        "WHERE p.serial = pass_registration.serial AND p.tag > $1) "
        f"WHERE id IN ({db.marks(count, 2)})"
    )


@functools.lru_cache(maxsize=64)
def already_told(count: int) -> db.Sql:
    """Devices that already had the pass's tag: released, due only if it moved on."""
    return db.sql(
        "UPDATE pass_registration SET pushing_until = NULL, push_due = EXISTS "
        "(SELECT 1 FROM pass_card p WHERE p.serial = pass_registration.serial "
        "AND p.tag > pass_registration.pushed_tag) "
        f"WHERE id IN ({db.marks(count)})"
    )


NEXT_TAGS = db.sql("UPDATE pass_tag_counter SET value = value + $1 WHERE id = 1 RETURNING value")
"""``$1`` tags taken from the counter in one bump; the last of them comes back."""


def serials_updated_since(*, after_tag: bool) -> db.Sql:
    """A device's passes ($1: device id), those changed after tag $2 when ``after_tag``."""
    return _SERIALS_AFTER_TAG if after_tag else _SERIALS_OF_DEVICE


_SERIALS_OF_DEVICE = db.sql(
    "SELECT r.serial AS serial, p.tag AS tag FROM pass_registration r "
    "JOIN pass_card p ON p.serial = r.serial WHERE r.device_id = $1 ORDER BY p.tag"
)
_SERIALS_AFTER_TAG = db.sql(
    "SELECT r.serial AS serial, p.tag AS tag FROM pass_registration r "
    "JOIN pass_card p ON p.serial = r.serial WHERE r.device_id = $1 AND p.tag > $2 "
    "ORDER BY p.tag"
)
