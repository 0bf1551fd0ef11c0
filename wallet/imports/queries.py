"""Every hand-written statement of imports, named (``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

from wallet import db


def keys_known(count: int) -> str:
    """SQLite: which of ``count`` keys ("<kind>:<old id>") were imported, with what they
    became."""
    return f"SELECT key, new_id, account_id FROM import_key WHERE key IN ({db.marks(count)})"


KEYS_KNOWN = db.sql("SELECT key, new_id, account_id FROM import_key WHERE key = ANY($1::text[])")
"""PostgreSQL: ``keys_known`` with one array."""

_KEY_COLUMNS = "key, new_id, account_id, run_id, created_at"


def insert_keys(rows: int) -> str:
    """SQLite: ``rows`` imported keys (key, new id, account, run, at); a key imported
    meanwhile by another run is a unique violation that rolls the whole batch back."""
    marks = db.rows(rows, 5)
    return f"INSERT INTO import_key ({_KEY_COLUMNS}) VALUES {marks}"


INSERT_KEYS = db.sql(
    f"INSERT INTO import_key ({_KEY_COLUMNS}) SELECT * FROM unnest($1::text[], $2::bigint[], "
    "$3::bigint[], $4::int[], $5::timestamptz[])"
)
"""PostgreSQL: ``insert_keys`` with one array per column."""


UNFINISHED_RUN = db.sql(
    "SELECT id, lines_done FROM import_run WHERE kind = $1 AND file_sha256 = $2 "
    "AND status = 'running' ORDER BY id DESC LIMIT 1"
)
"""A run of the same file that stopped before its end (a crash): it resumes there."""

START_RUN = db.sql(
    "INSERT INTO import_run (kind, file_name, file_sha256, status, lines_done, imported, "
    "skipped, actor, started_at) VALUES ($1, $2, $3, 'running', 0, 0, 0, $4, $5) RETURNING id"
)

BATCH_DONE = db.sql(
    "UPDATE import_run SET lines_done = $1, imported = imported + $2, skipped = skipped + $3 "
    "WHERE id = $4"
)
"""A batch's progress, committed with the batch itself."""

FINISH_RUN = db.sql(
    "UPDATE import_run SET status = 'done', finished_at = $1 WHERE id = $2 "
    "RETURNING imported, skipped"
)
