"""The program's hand-written SQL lives in each domain's ``queries`` module and runs through
``db.fetch``: ``db.raw`` (Piccolo's ``{}`` placeholders) is left for tests and one-off
scripts, and no row lock is switched on or off by engine in the text."""

from __future__ import annotations

import re
from pathlib import Path

import wallet

ROOT = Path(wallet.__file__).parent
RAW = re.compile(r"\bdb\.raw\(")
LOCK_SWITCH = re.compile(r"is_sqlite\(\)[^\n]*FOR UPDATE|FOR UPDATE[^\n]*is_sqlite\(\)")


def _program_sources() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if "migrations" not in path.parts and path.name != "db.py"
    ]


def test_no_program_module_runs_sql_through_db_raw():
    callers = [str(p.relative_to(ROOT)) for p in _program_sources() if RAW.search(p.read_text())]
    assert callers == [], f"use a named statement in the domain's queries.py: {callers}"


def test_no_row_lock_is_switched_by_engine():
    callers = [
        str(p.relative_to(ROOT)) for p in _program_sources() if LOCK_SWITCH.search(p.read_text())
    ]
    assert callers == [], f"name the lock with db.sql(..., lock=...): {callers}"


# The pool hands connections back without asyncpg's session reset (``runtime.keep_session``):
# nothing may leave session state behind for the next borrower.
SESSION_STATE = re.compile(
    r"pg_advisory_lock\(|pg_try_advisory_lock\(|[\"']\s*(?:UN)?LISTEN\s"
    r"|\(\s*[\"']\s*SET\s+(?!LOCAL\b)|\bWITH\s+HOLD\b"
)


def test_no_statement_leaves_session_state_for_the_next_borrower():
    callers = [
        str(p.relative_to(ROOT)) for p in _program_sources() if SESSION_STATE.search(p.read_text())
    ]
    assert callers == [], (
        "session state (a session advisory lock, LISTEN, SET without LOCAL, a held cursor) "
        f"would outlive the transaction: the pool does not reset connections: {callers}"
    )
