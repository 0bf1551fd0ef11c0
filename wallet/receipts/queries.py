"""Every hand-written statement of receipts and returns, named (``$n`` placeholders; see
``db.sql``).

The till's hot path runs these through ``db.fetch``: asyncpg prepares each once per
connection, which is why they are fixed texts (or built per row count) and not per call."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from wallet import db

STORE_CODE = db.sql("SELECT code FROM store WHERE id = $1")
"""A store's code, for promotions limited to stores (cached: codes never change)."""

ANY_RECEIPT = db.sql("SELECT 1 AS hit FROM receipt WHERE account_id = $1 LIMIT 1")
"""Whether the shopper has bought before: no row means this is the first purchase."""

EARLIER_RECEIPT = db.Sql(
    db.sql(
        "SELECT nextval(pg_get_serial_sequence('receipt', 'id')) AS next_id, r.request_hash, "
        "r.result FROM (SELECT 1) AS one LEFT JOIN receipt r ON r.store_key = $1"
    ).postgres,
    db.sql(
        "SELECT (SELECT COALESCE(MAX(id), 0) + 1 FROM receipt) AS next_id, r.request_hash, "
        "r.result FROM (SELECT 1) AS one LEFT JOIN receipt r ON r.store_key = $1"
    ).sqlite,
)
"""A receipt already posted under this store's id (a retry, or a clash if the hash differs:
``request_hash`` is NULL when there is none), and the id a new receipt takes, in one round
trip: the receipt is written once, last, with its reply (``write_receipt``), and its lines,
journal entries and promotions carry the id before that. A retry spends a sequence value on
PostgreSQL (a gap, harmless); SQLite's writer holds the whole database, so MAX + 1 is free."""

EARLIER_RETURN = db.sql("SELECT request_hash, result FROM receipt_return WHERE store_key = $1")
"""A return already posted under this store's id: a retry, or a clash if the hash differs."""

_RECEIPT_COLUMNS = (
    "id, store, external_id, store_key, card, account_id, occurred_at, posted_at, "
    "request_hash, total_kopecks, paid_kopecks, redeemed_points, earned_points, "
    "earned_lot_id, rules_id, result, refunded_points"
)
_LINE_COLUMNS = (
    "receipt, line_no, sku, category, quantity, amount_kopecks, redeemed_kopecks, "
    "earned_points, brand, discount_kopecks, manual_discount_kopecks, returned_kopecks, "
    "returned_redeemed_kopecks, returned_earned_points"
)
_PROMOTION_COLUMNS = (
    "receipt, promotion_id, name, discount_kopecks, points, lot_id, use_key, "
    "returned_discount_kopecks, returned_points, definition"
)


@functools.lru_cache(maxsize=256)
def write_receipt(lines: int, promotions: int, sqlite: bool) -> tuple[tuple[db.Sql, int], ...]:
    """A new receipt with its reply, its ``lines`` lines and the ``promotions`` promotions it
    applied: the statements to run in order, each with how many of the arguments it takes.
    The arguments: the receipt's (id, store, external id, store key, card, account, occurred,
    posted, request hash, total, paid, redeemed, earned, lot, rules, reply), then each
    line's (receipt, line no, sku, category, quantity, amount, redeemed, earned, brand,
    discount, manual discount), then each promotion's (receipt, promotion, name, discount,
    points, lot, budget use key). Built once per counts and engine.

    PostgreSQL gets one statement (the lines' key to the receipt is checked at its end, when
    the receipt is there): round trips are most of the till's time. SQLite, which has no
    INSERT inside a WITH and no round trip to save, gets the three statements."""
    receipt_width = 16
    line_width, promotion_width = 11 * lines, 7 * promotions

    def statements(first: tuple[int, int, int]) -> list[str]:
        made = [
            f"INSERT INTO receipt ({_RECEIPT_COLUMNS}) VALUES {db.rows(1, 16, first[0], ', 0')}",
            f"INSERT INTO receipt_line ({_LINE_COLUMNS}) "
            f"VALUES {db.rows(lines, 11, first[1], ', 0, 0, 0')}",
        ]
        if promotions:
            made.append(
                f"INSERT INTO receipt_promotion ({_PROMOTION_COLUMNS}) "
                f"VALUES {db.rows(promotions, 7, first[2], ', 0, 0, NULL')}"
            )
        return made

    if sqlite:
        texts = statements((1, 1, 1))
        widths = [receipt_width, line_width, promotion_width][: len(texts)]
        return tuple((db.sql(text), width) for text, width in zip(texts, widths, strict=True))
    texts = statements((1, 1 + receipt_width, 1 + receipt_width + line_width))
    named = ", ".join(f"{name} AS ({text})" for name, text in zip("rlp", texts, strict=False))
    return (
        (db.sql(f"WITH {named} SELECT 1 AS written"), receipt_width + line_width + promotion_width),
    )


APPLIED_PROMOTIONS = db.sql(
    "SELECT rp.id, rp.promotion_id, rp.name, "
    "COALESCE(CAST(rp.definition AS TEXT), CAST(p.definition AS TEXT)) AS definition, "
    "rp.discount_kopecks, rp.points, rp.returned_discount_kopecks, rp.returned_points, "
    "rp.lot_id, rp.use_key FROM receipt_promotion rp "
    "LEFT JOIN promotion p ON p.id = rp.promotion_id WHERE rp.receipt = $1 ORDER BY rp.id"
)
"""What each promotion gave on a receipt and what returns took back, priced again by a
return with the promotion's definition (which never changes; rows from before 2026-12-04
carry their own copy)."""

RETURN_PROMOTION = db.sql(
    "UPDATE receipt_promotion SET returned_discount_kopecks = "
    "returned_discount_kopecks + $1, returned_points = returned_points + $2 WHERE id = $3"
)
"""A return's share of one promotion, added in SQL (relative to what is stored)."""


LATEST_SPEND_CODE = db.sql(
    "SELECT id, nonce, tries, created_at, used_at, used_for FROM spend_code "
    "WHERE account_id = $1 ORDER BY id DESC LIMIT 1",
    created_at=db.timestamp,
    used_at=db.timestamp,
)
"""A shopper's newest spend code: the only one that counts (a new ask replaces it)."""

SPEND_CODES_SINCE = db.sql(
    "SELECT COUNT(*) AS n FROM spend_code WHERE account_id = $1 AND created_at >= $2"
)
"""Spend codes asked for a shopper since $2 (each ask texts them)."""

SPEND_CODE_WRONG_TRY = db.sql("UPDATE spend_code SET tries = tries + 1 WHERE id = $1")
"""A wrong try, counted atomically (five and the code is dead)."""

USE_SPEND_CODE = db.sql(
    "UPDATE spend_code SET used_at = $1, used_for = $2 WHERE id = $3 AND used_at IS NULL "
    "RETURNING id"
)
"""The code used up by one receipt, in its transaction; no row back: another took it."""


_IMPORTED_COLUMNS = "account_id, old_id, occurred_at, paid_kopecks, category, created_at"


def insert_imported(rows: int) -> str:
    """SQLite: ``rows`` purchases of an old program (``_IMPORTED_COLUMNS``) at once."""
    marks = db.rows(rows, 6)
    return f"INSERT INTO imported_receipt ({_IMPORTED_COLUMNS}) VALUES {marks}"


INSERT_IMPORTED = db.sql(
    f"INSERT INTO imported_receipt ({_IMPORTED_COLUMNS}) SELECT * FROM unnest($1::int[], "
    "$2::text[], $3::timestamptz[], $4::bigint[], $5::text[], $6::timestamptz[])"
)
"""PostgreSQL: ``insert_imported`` with one array per column."""


def imported_page(
    account_id: int,
    *,
    after: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> tuple[db.Sql, list[Any]]:
    """An account's purchases from its old program, newest first (by when they happened,
    then id): those that happened in (after, until], or those older than the one with id
    ``before_id`` (the next page of them)."""
    p = db.Params(account_id)
    where = "account_id = $1"
    if after is not None:
        where += f" AND occurred_at > {p(after)}"
    if until is not None:
        where += f" AND occurred_at <= {p(until)}"
    if before_id is not None:
        edge = f"(SELECT occurred_at FROM imported_receipt WHERE id = {p(before_id)})"
        where += f" AND (occurred_at < {edge} OR (occurred_at = {edge} AND id < {p(before_id)}))"
    text = (
        "SELECT id, old_id, occurred_at, paid_kopecks, category FROM imported_receipt "
        f"WHERE {where} ORDER BY occurred_at DESC, id DESC LIMIT {p(limit)}"
    )
    return db.sql(text, occurred_at=db.timestamp), p.values
