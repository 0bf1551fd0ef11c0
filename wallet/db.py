"""The database engine: one per process, chosen by ``WALLET_DATABASE_URL``.

SQLite is the embedded default (one file, one writer at a time); PostgreSQL is production.
Two facts measured on this stack decide how writes are made (STACK_NOTES.md):
- a read-then-write in a Piccolo transaction on PostgreSQL loses updates silently unless the
  rows are locked (``SELECT ... FOR UPDATE``) or the update is atomic in SQL;
- SQLite's DEFERRED transactions fail with "database is locked" under concurrency, IMMEDIATE
  ones are correct. Within one process we also queue writers on an asyncio lock so they
  wait in order instead of spinning in SQLite's busy handler.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from wallet import settings as settings_module

try:  # asyncpg is the PostgreSQL driver; its errors are translated in one place below.
    import asyncpg
except ImportError:  # pragma: no cover - asyncpg is a hard dependency
    asyncpg = None  # type: ignore[assignment]


def make_engine(database_url: str, *, pool_size: int = 20) -> Engine:
    if database_url.startswith("sqlite:"):
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Each query opens its own connection in Piccolo's SQLite engine, so the busy timeout
        # is what lets a second process (a separate worker) wait for the writer.
        return SQLiteEngine(path=str(path), timeout=30)
    if database_url.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(config={"dsn": database_url})
    raise SystemExit(
        f"WALLET_DATABASE_URL={database_url!r} is neither sqlite:///PATH nor postgresql://...; "
        "set it to one of those"
    )


_engine: Engine | None = None
_sqlite_writer = asyncio.Lock()


def engine() -> Engine:
    global _engine
    if _engine is None:
        cfg = settings_module.get()
        _engine = make_engine(cfg.database_url, pool_size=cfg.db_pool_size)
        bind(_engine)
    return _engine


def all_tables() -> list[type[Table]]:
    from wallet.piccolo_conf import APP_REGISTRY

    tables: list[type[Table]] = []
    for app in APP_REGISTRY.app_configs.values():
        tables.extend(app.table_classes)
    return tables


def bind(new_engine: Engine, tables: Iterable[type[Table]] | None = None) -> None:
    """Point every table at ``new_engine`` (the tests switch between the two databases)."""
    global _engine
    _engine = new_engine
    for table in tables if tables is not None else all_tables():
        table._meta.db = new_engine


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


async def start() -> None:
    eng = engine()
    if isinstance(eng, PostgresEngine):
        if eng.pool is None:
            await eng.start_connection_pool(max_size=settings_module.get().db_pool_size)
    else:
        # WAL lets readers go on while one writer commits; the setting is kept in the file.
        await eng.run_ddl("PRAGMA journal_mode=WAL")


async def stop() -> None:
    eng = engine()
    if isinstance(eng, PostgresEngine) and eng.pool is not None:
        await eng.close_connection_pool()


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """One database transaction for one business write, safe under concurrency."""
    eng = engine()
    if isinstance(eng, SQLiteEngine):
        if eng.current_transaction.get() is not None:
            yield
            return
        async with _sqlite_writer:
            async with eng.transaction(transaction_type=TransactionType.immediate):
                yield
    else:
        async with eng.transaction():
            yield


async def ping() -> bool:
    try:
        await engine().run_ddl("SELECT 1")
    except Exception:
        return False
    return True


def is_unique_violation(exc: BaseException) -> bool:
    """The two engines report a duplicate key differently; callers ask here."""
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return True
    return asyncpg is not None and isinstance(exc, asyncpg.UniqueViolationError)


async def raw(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Run SQL written for both engines (``{}`` placeholders), inside the current transaction."""
    from piccolo.querystring import QueryString

    rows = await engine().run_querystring(QueryString(sql, *args))
    return [dict(row) for row in rows or []]


_PLACEHOLDER = re.compile(r"\$(\d+)")


def _sqlite_sql(sql: str, args: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """``$n`` placeholders (PostgreSQL's) to SQLite's ``?``, arguments reordered to match."""
    order = [int(n) - 1 for n in _PLACEHOLDER.findall(sql)]
    values = [json.dumps(args[i]) if isinstance(args[i], dict | list) else args[i] for i in order]
    return _PLACEHOLDER.sub("?", sql.replace(" FOR UPDATE", "")), values


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Run one statement written with ``$1..$n`` placeholders, in the current transaction
    if there is one, and return its rows as dicts.

    The till's hot path uses this instead of Piccolo's query builder: building the SQL
    text was about a quarter of a receipt's CPU time (py-spy, bench/bench_receipts.py),
    and asyncpg caches the prepared statement per connection. ``FOR UPDATE`` is dropped on
    SQLite, whose IMMEDIATE transaction already holds the write lock.
    """
    eng = engine()
    if isinstance(eng, PostgresEngine):
        values = [json.dumps(a) if isinstance(a, dict | list) else a for a in args]
        pg_transaction = eng.current_transaction.get()
        if pg_transaction is not None:
            rows = await pg_transaction.connection.fetch(sql, *values)
        elif eng.pool is not None:
            async with eng.pool.acquire() as connection:
                rows = await connection.fetch(sql, *values)
        else:
            connection = await eng.get_new_connection()
            try:
                rows = await connection.fetch(sql, *values)
            finally:
                await connection.close()
        return [dict(row) for row in rows]
    assert isinstance(eng, SQLiteEngine)
    text, values = _sqlite_sql(sql, args)
    transaction = eng.current_transaction.get()
    if transaction is not None:
        async with transaction.connection.execute(text, values) as cursor:
            found = await cursor.fetchall()
            names = [column[0] for column in cursor.description or []]
    else:
        connection = await eng.get_connection()
        try:
            async with connection.execute(text, values) as cursor:
                found = await cursor.fetchall()
                names = [column[0] for column in cursor.description or []]
            await connection.commit()
        finally:
            await connection.close()
    return [row if isinstance(row, dict) else dict(zip(names, row, strict=True)) for row in found]
