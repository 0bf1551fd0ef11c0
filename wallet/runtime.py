"""The app runtime: what one running service holds between requests, in one object.

A ``Runtime`` holds the settings, the database engine (and so its pool), the pass signer,
the HTTP clients to APNs and Google Wallet, the SMTP connections, SQLite's writer queue,
the event subscriptions, and the caches the domains keep (program rules, bonuses, callers'
keys, the pass program, schedule slots, the server secret, the Google classes made, store codes). It is built and closed in one place,
``wallet.wiring.running(settings)``, which the Litestar lifespan, the command line and the
outbox worker all use: building connects the events, binds the tables to the engine and
starts the pool; closing closes the APNs, Google and SMTP clients, the PostgreSQL pool and
SQLite's idle connections. Two runtimes built one after another share nothing.

How code reaches it: ``current()``, one process-wide slot set by ``running`` (the lifespan
sets it at start-up, restores the one before at shutdown), not a global built on first use:
``current()`` without a running runtime is an error that says so. Chosen over threading a
``Runtime`` argument through the ~60 service functions that read the settings or a cache
(the till's receipt, the pass refresh, every job), which would change every signature for
no behaviour, and over a context variable, because Litestar runs the lifespan in another
task than the requests: a context variable set there is not seen by the handlers. Reading
the slot is one global load and a None check (``db.engine()`` 38 ns, was 82;
``settings.get()`` 99 ns, was 79), so the hot paths pay nothing measurable: back to back on
a loaded 2-core machine, ``bench/bench_receipts.py --seconds 10 --shoppers 300
--connections 10`` gave 0.40 of pgbench (main beside it: 0.31) and ``bench/bench_push.py
--receipts 300 --devices 2000`` commit-to-push p50 107 ms, p99 296 ms, 0.97 of the bare
client (main: 110 ms, 397 ms, 0.93).
A Litestar handler may also take it by Litestar's dependency injection, as a parameter
named ``runtime`` (``/ready`` does).

What stays at module level, on purpose: the job handlers and schedules that ``jobs.py``
modules register on import (code, the same for every runtime), the Jinja environments
(templates), the APNs sweeper and the pass-refresh groups of ``wallet.passsync.jobs``
(in-flight work of one event loop, not state kept between requests).

The runtime sits in the shared kernel: it imports no domain. What a domain keeps here
(clients, readers) is built by the domain through ``client(key, make)`` and closed here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from piccolo.engine.base import Engine

from passes.apple import PassSigner
from passes.google import ServiceAccount
from wallet import settings as settings_module

log = logging.getLogger("wallet.runtime")
# How long closing waits for connections to come back before it terminates them.
CLOSE_SECONDS = 10.0

T = TypeVar("T")
Handler = Callable[[Any], Awaitable[None]]
FactsReader = Callable[..., Awaitable[dict[int, Any]]]


async def keep_session(connection: Any) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own (it rolls back an open
    transaction). asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`` each time a connection goes back: a round trip per release, two
    per till receipt. We leave no session state to undo: advisory locks are the
    transaction's (``pg_advisory_xact_lock``), settings are ``SET LOCAL``, no cursor outlives
    its transaction and nothing LISTENs (``tests/platform/test_sql_home.py`` keeps it so)."""


@dataclass
class Caches:
    """Each domain's cache of this runtime; a new runtime starts with all of them empty."""

    # wallet.rules: (when read, every version of the program rules)
    rules: tuple[float, list[Any]] | None = None
    # wallet.promotions: (version row read, the active promotions compiled)
    promotions: tuple[int, Any] | None = None
    promotions_checked: float = 0.0  # time.monotonic() of the last version read
    promotions_changed: float = float("-inf")  # time.monotonic() of this process's last change
    # wallet.webhooks: (when read, the active endpoints and the events each asked for)
    webhooks: tuple[float, Any] | None = None
    webhooks_changed: float = float("-inf")  # time.monotonic() of this process's last change
    # wallet.bonuses: (when read, the bonuses in force)
    bonuses: tuple[float, Any] | None = None
    # wallet.auth: key digest -> (when looked up, the caller, when a shopper token expires)
    principals: dict[str, tuple[float, Any, Any]] = field(default_factory=dict)
    principal_lookups: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    # wallet.passsync.view: one passes.card.Program per distinct content
    programs: dict[Any, Any] = field(default_factory=dict)
    # wallet.passsync.google: loyalty classes known to exist at Google
    google_classes: set[tuple[str, str]] = field(default_factory=set)
    # wallet.platform.worker: schedule slots this process saw taken
    seen_slots: dict[str, str] = field(default_factory=dict)
    # wallet.codes: the server secret, per (WALLET_SECRET_KEY, certs folder)
    secrets: dict[tuple[str, str], bytes] = field(default_factory=dict)
    # wallet.receipts: store id -> its code (codes never change)
    store_codes: dict[int, str] = field(default_factory=dict)


@dataclass(eq=False)
class Runtime:
    settings: settings_module.Settings
    engine: Engine
    # Close the engine's pool on ``close`` (False: the caller owns it, as the tests do).
    owns_engine: bool = True
    caches: Caches = field(default_factory=Caches)
    # wallet.platform.events: event type -> its handlers, in subscription order
    subscribers: dict[type, list[Handler]] = field(default_factory=dict)
    # What offers add to passes (goal of the month, reminded burn); set by wallet.wiring.
    goals_reader: FactsReader | None = None
    burns_reader: FactsReader | None = None
    # SQLite writers of this process queue here (wallet.db.write_transaction); a lock of
    # the runtime's event loop, not of whichever loop first used a module-level one.
    sqlite_writer: asyncio.Lock = field(default_factory=asyncio.Lock)
    _clients: dict[Hashable, Any] = field(default_factory=dict)
    _signers: dict[str, PassSigner] = field(default_factory=dict)
    _google_accounts: dict[str, ServiceAccount] = field(default_factory=dict)
    closed: bool = False

    def signer(self) -> PassSigner:
        """The pass signer for the certificates folder of the settings (read once)."""
        folder = self.settings.certs_dir
        found = self._signers.get(str(folder))
        if found is None:
            found = PassSigner.from_files(
                folder / "pass-cert.pem", folder / "pass-key.pem", folder / "wwdr.pem"
            )
            self._signers[str(folder)] = found
        return found

    def google_account(self) -> ServiceAccount:
        folder = self.settings.certs_dir
        found = self._google_accounts.get(str(folder))
        if found is None:
            found = ServiceAccount.from_file(folder / "google-service-account.json")
            self._google_accounts[str(folder)] = found
        return found

    def client(self, key: Hashable, make: Callable[[], T]) -> T:
        """The client kept under ``key`` (made on first use; its ``close()`` is awaited when
        the runtime closes). Keys carry what the client was made from (URL, folder), so a
        setting changed under a running runtime gets a client of its own."""
        found = self._clients.get(key)
        if found is None:
            if self.closed:
                raise RuntimeError("the app runtime is closed; no new clients are made")
            found = make()
            self._clients[key] = found
        return found  # type: ignore[no-any-return]

    async def close_clients(self, kind: str | None = None) -> None:
        """Close the clients (those whose key starts with ``kind``, or every one)."""
        for key in [k for k in self._clients if kind is None or _kind(k) == kind]:
            await self._clients.pop(key).close()

    async def start(self, *, pool: bool = True) -> None:
        """Open the database: PostgreSQL's pool (``pool=False``: none, for a command that
        makes a few queries, such as ``wallet migrate``), SQLite's WAL mode."""
        from piccolo.engine.postgres import PostgresEngine

        if isinstance(self.engine, PostgresEngine):
            if not pool:
                return
            if self.engine.pool is None:
                size = self.settings.db_pool_size
                if size < 1:
                    raise SystemExit(
                        f"WALLET_DB_POOL_SIZE={size} leaves no connection to PostgreSQL; set it "
                        "to 1 or more (default 20)"
                    )
                # asyncpg opens 10 at start by default; a smaller pool opens all of its own.
                await self.engine.start_connection_pool(
                    min_size=min(10, size), max_size=size, reset=keep_session
                )
        else:
            # WAL lets readers go on while one writer commits; the setting is kept in the file.
            await self.engine.run_ddl("PRAGMA journal_mode=WAL")

    async def close(self) -> None:
        """Close what the runtime opened: every client first (they may be mid-request on
        the pool's data), then the database's connections. Safe to call twice."""
        self.closed = True
        errors: list[BaseException] = []
        for key in list(self._clients):
            try:
                await self._clients.pop(key).close()
            except Exception as exc:  # close the rest, then say what failed
                errors.append(exc)
        if self.owns_engine:
            await close_engine(self.engine)
        if errors:
            raise errors[0]


def _kind(key: Hashable) -> Any:
    return key[0] if isinstance(key, tuple) and key else key


async def close_engine(engine: Engine) -> None:
    from piccolo.engine.postgres import PostgresEngine

    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        pool, engine.pool = engine.pool, None
        try:
            # close() waits for every connection to be handed back; one held by a request
            # stuck on a dead server would keep the process from ever stopping.
            await asyncio.wait_for(pool.close(), timeout=CLOSE_SECONDS)
        except TimeoutError:
            log.warning(
                "database connections were still in use after %.0f s; closing them anyway",
                CLOSE_SECONDS,
            )
            pool.terminate()
    close_idle = getattr(engine, "close_idle", None)
    if close_idle is not None:  # wallet.db.WalSQLiteEngine keeps idle connections
        await close_idle()


_current: Runtime | None = None


def current() -> Runtime:
    """The running runtime (set by ``wallet.wiring.running``)."""
    if _current is None:
        raise RuntimeError(
            "no app runtime is running: start one with wallet.wiring.running(settings) "
            "(the app's lifespan, the command line and the worker do)"
        )
    return _current


def active() -> Runtime | None:
    """The running runtime, or None before one starts (settings read at import time)."""
    return _current


def activate(runtime: Runtime | None) -> Runtime | None:
    """Make ``runtime`` the current one; returns the one it replaces (to restore later)."""
    global _current
    before, _current = _current, runtime
    return before


def loop_id() -> int:
    """Clients speak HTTP/2 on one event loop's sockets: their keys carry the loop."""
    return id(asyncio.get_running_loop())
