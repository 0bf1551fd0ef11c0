"""The database engine (one per app runtime, chosen by ``WALLET_DATABASE_URL``) and how
SQL is run on it.

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
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import msgspec
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.table import Table

from wallet import runtime
from wallet.statements import Params as Params
from wallet.statements import Sql as Sql
from wallet.statements import marks as marks
from wallet.statements import rows as rows
from wallet.statements import sql as sql
from wallet.statements import sqlite_text

try:  # asyncpg is the PostgreSQL driver; its errors are translated in one place below.
    import asyncpg
except ImportError:  # pragma: no cover - asyncpg is a hard dependency
    asyncpg = None  # type: ignore[assignment]

log = logging.getLogger("wallet.db")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _integer_out(value: bytes) -> int:
    """An INTEGER column's value as read from SQLite. Piccolo's converter decodes the bytes
    and goes through ``Decimal`` for every value (0.54 us; ``int`` of the bytes: 0.08 us), a
    good part of reading a campaign batch's shoppers (bench/bench_sms.py, py-spy --gil). A
    REAL stored in the column ("1.0") still comes back as Piccolo returns it."""
    try:
        return int(value)
    except ValueError:
        return int(Decimal(value.decode()))


# The converters are process-wide (``sqlite3.register_converter``); Piccolo registers its
# own on import, which these replace. BOOLEAN: Piccolo's is ``text == "1"`` after a decode.
sqlite3.register_converter("INTEGER", _integer_out)
sqlite3.register_converter("BOOLEAN", b"1".__eq__)


class SafeSQLiteTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction, with the transaction ended and forgotten whatever
    happens.

    A COMMIT that fails for want of space (SQLITE_FULL) or an I/O error may leave the
    transaction open on its connection (SQLite says it may or may not roll back). Piccolo
    then neither closes the connection nor forgets the transaction: the connection kept the
    file's write lock, so every other writer waited and then failed "database is locked",
    and the next write of the same task ran inside the dead transaction (a receipt
    answered 503 was seen as recorded by that task). Here a failed COMMIT is rolled back,
    the connection closed, and the task forgets the transaction.
    """

    __slots__ = ()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception is not None:
                # SQLite may have rolled back already (SQLITE_FULL mid-statement); the
                # first error is the one the caller must see.
                if not self._rolled_back and self.connection.in_transaction:
                    try:
                        await self.rollback()
                    except Exception as failed:
                        log.warning("rollback failed (%r); closing the connection", failed)
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            try:
                if self.connection.in_transaction:
                    await self.connection.execute("ROLLBACK")
            except Exception as failed:
                log.warning("rollback after a failed commit failed too (%r)", failed)
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
            # Closed for real while a transaction is still open (``get_connection``).
            await self.connection.close()
        return exception is None


class WalSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with ``PRAGMA synchronous = NORMAL`` and reused connections.

    Durability: the database runs in WAL mode (``start``). There, NORMAL still writes every
    transaction to the WAL before the commit returns, so a committed write survives the
    *process* dying at any point (a killed worker, a crash), which is what the outbox and
    the ledger rely on. It skips the fsync at each commit and syncs at checkpoints instead,
    so only an operating-system crash or a power cut could lose the last commits (the file
    is never corrupted). FULL paid one fsync per write transaction. ``synchronous`` is a
    per-connection setting, so it is set on every connection made here.

    Connections: Piccolo opens a new connection, and aiosqlite a new thread, for every query
    outside a transaction and for every transaction; on a busy 2-core machine starting that
    thread was most of a pass update's time (py-spy, bench/bench_campaigns.py --channel
    push). Idle connections are kept (up to ``IDLE``) and handed out again. One comes back
    only when it holds no open transaction; otherwise it is closed. Their threads are
    daemons, so idle connections never keep the process from exiting.
    """

    IDLE = 32

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: list[Any] = []

    async def _new_connection(self) -> Any:
        import aiosqlite

        connection = aiosqlite.connect(**self.connection_kwargs)
        connection._thread.daemon = True  # an idle connection must not block exit
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        await connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    async def get_connection(self) -> Any:
        while self._idle:
            connection = self._idle.pop()
            if connection._connection is not None:  # not closed underneath us
                break
        else:
            connection = await self._new_connection()
        engine = self
        really_close = type(connection).close.__get__(connection)

        async def close() -> None:
            # Piccolo's transactions and db.fetch call close(): give it back instead.
            del connection.close
            if connection.in_transaction or len(engine._idle) >= engine.IDLE:
                await really_close()
            else:
                engine._idle.append(connection)

        connection.close = close
        return connection

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return SafeSQLiteTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )

    async def close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        # As Piccolo's, on a reused connection (SQLite >= 3.35 has RETURNING).
        connection = await self.get_connection()
        try:
            async with connection.execute(query, args or []) as cursor:
                await connection.commit()
                return await cursor.fetchall()
        finally:
            await connection.close()


# How long a connection may take to be reset and handed back before it is terminated
# instead: a server that went away must not hold us (closing the pool: runtime.CLOSE_SECONDS).
RELEASE_SECONDS = 5.0


class SafePostgresTransaction(PostgresTransaction):
    """Piccolo's PostgreSQL transaction, with the connection always handed back.

    Piccolo releases the connection only after a successful BEGIN and a successful
    COMMIT or ROLLBACK. When the server goes away mid-transaction (a restart, a dropped
    link) the ROLLBACK fails too ("connection is closed", "cannot switch to state 12;
    another operation is in progress"), the release is skipped and the pool loses that
    connection for good; once all are lost every request waits forever and ``Pool.close()``
    never returns, so the process cannot stop. It also left the task's current transaction
    pointing at the dead connection, so the next write in the same task (the worker's loop)
    failed too. Here a connection whose state is unknown is terminated, and whatever
    happens it goes back to the pool and the task forgets the transaction.
    """

    __slots__ = ()

    async def __aenter__(self) -> PostgresTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            self.transaction = self.connection.transaction()
            await self.begin()
        except BaseException:
            await self._hand_back(broken=True)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        broken = False
        try:
            if exception is not None:
                if not self._rolled_back:
                    try:
                        await self.rollback()
                    except Exception as failed:
                        # The first error is the one the caller must see; the connection
                        # is dropped, which rolls the transaction back on the server.
                        broken = True
                        log.warning("rollback failed (%r); dropping the connection", failed)
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            broken = True
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
            await self._hand_back(broken=broken)
        return exception is None

    async def _hand_back(self, *, broken: bool) -> None:
        connection = self.connection
        pool = self.engine.pool
        try:
            if broken and not connection.is_closed():
                connection.terminate()
            if pool is not None:
                # A terminated connection is only marked free; the pool reconnects later.
                await pool.release(connection, timeout=RELEASE_SECONDS)
            elif not connection.is_closed():
                await connection.close(timeout=RELEASE_SECONDS)
        except asyncpg.InterfaceError:
            # A connection that died is freed by asyncpg itself ("connection has been
            # released back to the pool"): nothing is left to hand back.
            pass
        except Exception as failed:
            # asyncpg terminated it and freed its slot before raising.
            log.warning("a database connection could not be reset (%r); it was dropped", failed)


class WalletPostgresEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine whose transactions always give their connection back."""

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return SafePostgresTransaction(engine=self, allow_nested=allow_nested)


def make_engine(database_url: str, *, pool_size: int = 20) -> Engine:
    if database_url.startswith("sqlite:"):
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Each query opens its own connection in Piccolo's SQLite engine, so the busy timeout
        # is what lets a second process (a separate worker) wait for the writer.
        return WalSQLiteEngine(path=str(path), timeout=30)
    if database_url.startswith(("postgresql://", "postgres://")):
        from wallet import settings as settings_module

        cache = settings_module.get().db_statement_cache_size
        return WalletPostgresEngine(config={"dsn": database_url, "statement_cache_size": cache})
    raise SystemExit(
        f"WALLET_DATABASE_URL={database_url!r} is neither sqlite:///PATH nor postgresql://...; "
        "set it to one of those"
    )


def engine() -> Engine:
    """The engine of the running app runtime (``wallet.runtime``)."""
    return runtime.current().engine


def all_tables() -> list[type[Table]]:
    from wallet.piccolo_conf import APP_REGISTRY

    tables: list[type[Table]] = []
    for app in APP_REGISTRY.app_configs.values():
        tables.extend(app.table_classes)
    return tables


def bind(new_engine: Engine, tables: Iterable[type[Table]] | None = None) -> None:
    """Point every table at ``new_engine`` (each runtime does as it starts)."""
    for table in tables if tables is not None else all_tables():
        table._meta.db = new_engine


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


class _Commit:
    """What waits for the commit of one ``write_transaction`` (``after_commit``)."""

    __slots__ = ("callbacks", "over")

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []
        self.over = False


# The outermost ``write_transaction`` of this task. A task started inside it copies the
# variable, so the transaction marks itself ``over`` when it ends, committed or not.
_commit: ContextVar[_Commit | None] = ContextVar("wallet_db_commit", default=None)


def after_commit(callback: Callable[[], None]) -> None:
    """Call ``callback`` once the current ``write_transaction`` has committed (never if it
    rolls back); at once outside one. The outbox wakes its worker so: woken before the
    commit, a worker on PostgreSQL claims before the job is visible and sleeps out its
    poll. A callback asked for twice in one transaction runs once."""
    commit = _commit.get()
    if commit is None or commit.over:
        callback()
    elif callback not in commit.callbacks:
        commit.callbacks.append(callback)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """One database transaction for one business write, safe under concurrency."""
    eng = engine()
    if isinstance(eng, SQLiteEngine) and eng.current_transaction.get() is not None:
        yield
        return
    if eng.current_transaction.get() is not None:
        async with eng.transaction():  # Piccolo's nested transaction: the outer one commits
            yield
        return
    commit = _Commit()
    token = _commit.set(commit)
    try:
        if isinstance(eng, SQLiteEngine):
            async with runtime.current().sqlite_writer:
                async with eng.transaction(transaction_type=TransactionType.immediate):
                    yield
        else:
            async with eng.transaction():
                yield
    finally:
        commit.over = True
        _commit.reset(token)
    for callback in commit.callbacks:
        callback()


async def ping(on: Engine | None = None) -> bool:
    try:
        await (on or engine()).run_ddl("SELECT 1")
    except Exception:
        return False
    return True


_RETRIES = 3


def retry_on_deadlock(
    write: Callable[_P, Awaitable[_R]],
) -> Callable[_P, Awaitable[_R]]:
    """Run a write (one transaction inside ``write``) again when PostgreSQL chose it as
    the victim of a deadlock or a serialization failure: nothing of it was committed, so
    running it again is what the caller would do. A till's late return can cross the
    month-end settlement of the same account (progress row, then account, against the
    settlement's progress rows, then accounts); the till should not see an error for it."""

    @functools.wraps(write)
    async def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if engine().current_transaction.get() is not None:
            return await write(*args, **kwargs)  # the caller's transaction: theirs to retry
        for attempt in range(1, _RETRIES + 1):
            try:
                return await write(*args, **kwargs)
            except Exception as exc:
                if attempt == _RETRIES or not _is_retryable(exc):
                    raise
                await asyncio.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    return run


def _is_retryable(exc: BaseException) -> bool:
    return asyncpg is not None and isinstance(
        exc, asyncpg.DeadlockDetectedError | asyncpg.SerializationError
    )


def is_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or went away mid-request (a restart, a dropped
    link, a server still starting): nothing was committed that the caller cannot retry,
    so the caller is told to come back rather than that the server failed."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        if asyncpg is not None and isinstance(
            current,
            asyncpg.PostgresConnectionError  # class 08: the link failed
            | asyncpg.CannotConnectNowError  # the server is starting or stopping
            | asyncpg.AdminShutdownError  # pg_ctl stop/restart -m fast
            | asyncpg.CrashShutdownError
            | asyncpg.TooManyConnectionsError
            | asyncpg.InterfaceError  # "connection is closed", "another operation ..."
            | asyncpg.InternalClientError,
        ):
            return True
        if isinstance(current, sqlite3.OperationalError) and "locked" in str(current):
            return True  # the file's writer held it past the busy timeout
        current = current.__cause__ or current.__context__
    return False


def is_storage_full(exc: BaseException) -> bool:
    """The database could not write for want of space: SQLite's file system is full
    (SQLITE_FULL, "database or disk is full"), PostgreSQL's disk is (53100). The
    transaction was rolled back whole, so the caller may retry once space is freed."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.OperationalError) and (
            getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "disk is full" in str(current)
        ):
            return True
        if asyncpg is not None and isinstance(current, asyncpg.DiskFullError):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_unique_violation(exc: BaseException) -> bool:
    """The two engines report a duplicate key differently; callers ask here."""
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return True
    return asyncpg is not None and isinstance(exc, asyncpg.UniqueViolationError)


async def raw(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Piccolo's ``{}`` placeholders, for tests and one-off scripts only: the program's own
    statements live in each domain's ``queries`` module and run through ``fetch``."""
    from piccolo.querystring import QueryString

    rows = await engine().run_querystring(QueryString(sql, *args))
    return [dict(row) for row in rows or []]


# ---- the one way the program runs its hand-written SQL -------------------------------------
#
# Every statement is written once, for both engines, with PostgreSQL's ``$1..$n``
# placeholders (asyncpg prepares and caches it per connection: the till's hot path). SQLite
# gets the same numbers as ``?1..?n``, which it binds by number, so no argument is
# reordered. What the engines return differently is decoded here, once, for the columns a
# statement names (``decode``): the rest already agree (Piccolo's SQLite converters turn a
# plain TIMESTAMPTZ/BOOLEAN column into an aware datetime/bool, as asyncpg does).


def timestamp(value: Any) -> datetime | None:
    """An aware UTC datetime: SQLite hands back an aggregate's or expression's timestamp as
    the text Piccolo stored ("2026-11-30 12:00:00+00:00")."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # stored by Piccolo as UTC without the offset
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def json_value(value: Any) -> Any:
    """Parsed JSON: both drivers hand back json/jsonb (and SQLite's JSON text) as a string."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def boolean(value: Any) -> bool | None:
    """A bool: SQLite computes ``EXISTS``/comparisons as 0/1."""
    return None if value is None else bool(value)


def _decoded(
    rows: Iterable[Any], decode: tuple[tuple[str, Callable[[Any], Any]], ...]
) -> list[dict[str, Any]]:
    found = [dict(row) for row in rows]
    for row in found:
        for column, decoder in decode:
            if column in row:
                row[column] = decoder(row[column])
    return found


_encoder = msgspec.json.Encoder()
_JSON_TYPES = (dict, list)
"""What ``fetch`` sends as JSON text (a tuple: ``dict | list`` built a union per value)."""


def _json(value: dict[str, Any] | list[Any]) -> str:
    """A JSON argument as text: msgspec's encoder, several times the standard library's
    on a receipt's stored reply (the till's hot path)."""
    return _encoder.encode(value).decode()


async def fetch(query: str | Sql, *args: Any) -> list[dict[str, Any]]:
    """Run one statement (a ``queries`` module's ``Sql``, or text with ``$1..$n`` built
    there), in the current transaction if there is one, and return its rows as dicts.

    The till's hot path uses this instead of Piccolo's query builder: building the SQL
    text was about a quarter of a receipt's CPU time (py-spy, bench/bench_receipts.py),
    and asyncpg caches the prepared statement per connection. A dict or list argument is
    sent as JSON text on both engines.
    """
    eng = engine()
    values = [_json(a) if isinstance(a, _JSON_TYPES) else a for a in args]
    decode = query.decode if isinstance(query, Sql) else ()
    if isinstance(eng, PostgresEngine):
        text = query.postgres if isinstance(query, Sql) else query
        pg_transaction = eng.current_transaction.get()
        if pg_transaction is not None:
            rows = await pg_transaction.connection.fetch(text, *values)
        elif eng.pool is not None:
            async with eng.pool.acquire() as connection:
                rows = await connection.fetch(text, *values)
        else:
            connection = await eng.get_new_connection()
            try:
                rows = await connection.fetch(text, *values)
            finally:
                await connection.close()
        return _decoded(rows, decode) if decode else [dict(row) for row in rows]
    assert isinstance(eng, SQLiteEngine)
    text = query.sqlite if isinstance(query, Sql) else sqlite_text(query)
    # One hand-over to the connection's thread per statement (``execute_fetchall``; the
    # rows are dicts: every connection has Piccolo's ``dict_factory``), not three (execute,
    # fetchall, close the cursor): each wakes that thread and then the event loop, and
    # under a busy loop each waited for the GIL (bench/bench_sms.py on SQLite).
    transaction = eng.current_transaction.get()
    if transaction is not None:
        found = await transaction.connection.execute_fetchall(text, values)
    else:
        connection = await eng.get_connection()
        try:
            found = await connection.execute_fetchall(text, values)
            if connection.in_transaction:  # a write outside a transaction: its own commit
                await connection.commit()
        finally:
            await connection.close()
    dicts: list[dict[str, Any]] = list(found)  # type: ignore[arg-type]
    return _decoded(dicts, decode) if decode else dicts


def values_table(rows: list[tuple[Any, ...]], types: tuple[str, ...]) -> tuple[str, list[Any]]:
    """``(VALUES ($1, $2), ($3, $4)) AS v`` for ``fetch``, with its arguments: a batch of
    rows to join in one statement (``UPDATE t SET x = v.column2 FROM <this> WHERE
    t.id = v.column1``) instead of one statement per row. Both engines name the columns
    ``column1``, ``column2``...; PostgreSQL is told each column's type (``types``, e.g.
    ``"bigint"``, ``"text"``, ``"timestamptz"``), which it cannot infer from parameters."""
    cast = [""] * len(types) if is_sqlite() else [f"::{name}" for name in types]
    marks: list[str] = []
    args: list[Any] = []
    for row in rows:
        start = len(args)
        marks.append("(" + ", ".join(f"${start + n + 1}{cast[n]}" for n in range(len(types))) + ")")
        args.extend(row)
    return f"(VALUES {', '.join(marks)}) AS v", args


def chunks(items: list[_R], size: int = 500) -> Iterator[list[_R]]:
    """``items`` in lists of at most ``size``: IN lists of a bounded length (SQLite allows
    32,766 parameters a statement; asyncpg caches a statement per distinct length)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def fetch_many(
    rows: list[tuple[Any, ...]],
    *,
    sqlite: Callable[[int], str],
    postgres: Sql,
    per_statement: int = 2000,
    shared: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    """One statement over many rows (a bulk import's batch): on PostgreSQL ``postgres``
    takes one array per column (``unnest($1::int[], $2::text[], ...)``), a fixed text that
    asyncpg prepares once; a multi-row VALUES of thousands of rows is a new, uncached
    statement of up to 32,767 parameters every time, and was most of an import's time
    (bench/bench_import.py). SQLite gets ``sqlite(n)``, the rows' values flat, in statements
    of at most ``per_statement`` rows. ``shared``: values the same for every row (a chunk's
    time), bound once after the rows' (SQLite: ``$n*columns+1``...; PostgreSQL: after the
    arrays): a datetime bound per row is a Python adapter call per row on SQLite."""
    if not rows:
        return []
    if is_sqlite():
        found: list[dict[str, Any]] = []
        for part in chunks(rows, per_statement):
            flat = [value for row in part for value in row]
            found += await fetch(sqlite(len(part)), *flat, *shared)
        return found
    # Tuples: ``fetch`` sends a list as JSON text; asyncpg sends a tuple as an array.
    return await fetch(postgres, *zip(*rows, strict=True), *shared)


async def fetch_in(
    values: list[Any], *, sqlite: Callable[[int], str], postgres: Sql
) -> list[dict[str, Any]]:
    """A lookup of many values: ``= ANY($1)`` with one array on PostgreSQL, ``IN`` lists
    of at most 500 (``sqlite(n)``) on SQLite."""
    if not values:
        return []
    if is_sqlite():
        found: list[dict[str, Any]] = []
        for part in chunks(values):
            found += await fetch(sqlite(len(part)), *part)
        return found
    return await fetch(postgres, tuple(values))
