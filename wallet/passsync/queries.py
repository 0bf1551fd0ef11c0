"""Hand-written statements of pass sync, named (``$n`` placeholders; see ``db.sql``)."""

from __future__ import annotations

from wallet import db

LOCK_PASS_TAG = db.sql("SELECT tag FROM pass_card WHERE id = $1 {lock}", lock="FOR UPDATE")
"""A pass's current tag, its row locked: a device registering reads the tag under the same
lock a refresh takes to give the pass a new one, so the registration either stores the new
tag or is flagged for its push after it commits."""
