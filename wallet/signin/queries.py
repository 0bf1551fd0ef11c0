"""Every hand-written statement of sign-in, named (``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

import functools

from wallet import db

TRY_CODE = db.sql(
    "UPDATE signin_code SET attempts = attempts + 1 "
    "WHERE id = (SELECT id FROM signin_code WHERE email = $1 AND used_at IS NULL "
    "ORDER BY id DESC LIMIT 1) "
    "AND used_at IS NULL AND attempts < $2 AND expires_at > $3 "
    "RETURNING id, code_hash, member_id, attempts"
)
"""One try at the address's latest unused code, counted before the code is compared, in
one conditional UPDATE: concurrent guesses cannot pass the limit ($2)."""

USE_CODE = db.sql(
    "UPDATE signin_code SET used_at = $1 WHERE id = $2 AND used_at IS NULL RETURNING id"
)
"""A code signs in once: a concurrent request that used it first leaves no row."""


@functools.lru_cache(maxsize=64)
def last_sessions(count: int) -> db.Sql:
    """When each of ``count`` members last signed in on the pages."""
    marks = db.marks(count)
    return db.sql(
        "SELECT member_id, MAX(created_at) AS at FROM page_session "
        f"WHERE member_id IN ({marks}) GROUP BY member_id",
        at=db.timestamp,
    )


LIMIT_LOCK = db.sql("SELECT pg_advisory_xact_lock($1)")
"""PostgreSQL: one limit key's events are counted and recorded by one request at a time
(SQLite's write transaction already holds the whole file)."""
