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
