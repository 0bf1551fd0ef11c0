"""Test fixtures: every database test runs on a real SQLite file and on a real PostgreSQL.

PostgreSQL must be reachable (``WALLET_TEST_POSTGRES_URL``, default the machine's
``postgresql://postgres@127.0.0.1:5432/test``): its absence fails the run, it never skips.
Each test session makes a database of its own next to that one and migrates it with the
real ``wallet migrate`` command, so two runs on one machine do not see each other.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine

from wallet import db, wiring
from wallet import settings as settings_module

# Every log record of the session is searched for personal data and secrets.
pytest_plugins = ["tests.support.log_scan"]

POSTGRES_URL = os.environ.get(
    "WALLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Database:
    kind: str
    url: str
    engine: Engine


def _migrate(url: str, tmp: Path) -> None:
    env = {**os.environ, "WALLET_DATABASE_URL": url, "WALLET_CERTS_DIR": str(tmp / "certs")}
    done = subprocess.run(
        [sys.executable, "-m", "wallet", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wallet migrate failed on {url}:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    from passes.devcerts import make_dev_certs

    make_dev_certs(folder, pass_type_id="pass.ru.example.loyalty", team_id="DEVTEAM123")
    return folder


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    tmp = tmp_path_factory.mktemp("sqlite")
    url = f"sqlite:///{tmp / 'wallet.sqlite3'}"
    _migrate(url, tmp)
    # One writer lock per session: a runner that starts several sessions in one process
    # (mutmut) would otherwise find the last session's lock, tied to its closed event loop.
    db._sqlite_writer = asyncio.Lock()
    yield Database("sqlite", url, db.make_engine(url))


async def _connect_creating(url: str) -> asyncpg.Connection:
    """A connection to ``url``; a server that is up but lacks that database (a fresh
    PostgreSQL has no ``test``) gets it created, instead of the run failing as if the
    server were down."""
    try:
        return await asyncpg.connect(url, timeout=10)
    except asyncpg.InvalidCatalogNameError:
        base, name = url.rsplit("/", 1)
        server = await asyncpg.connect(f"{base}/postgres", timeout=10)
        try:
            await server.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass  # another run made it meanwhile
        finally:
            await server.close()
        print(f"created database {name!r} on {base} for the tests")
        return await asyncpg.connect(url, timeout=10)


@pytest.fixture(scope="session")
async def postgres_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database | None]:
    if not any("[postgres" in item.nodeid for item in request.session.items):
        # A run that selected only SQLite tests (`-k sqlite`, as the mutation tester
        # runs them thousands of times) needs no PostgreSQL database made and migrated.
        yield None
        return
    name = f"wallet_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = await _connect_creating(POSTGRES_URL)
    except Exception as exc:  # no skip: a run without PostgreSQL is a failed run
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc!r}); start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
            pytrace=False,
        )
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    _migrate(url, tmp_path_factory.mktemp("pg"))
    engine = db.make_engine(url)
    assert isinstance(engine, PostgresEngine)
    await engine.start_connection_pool(max_size=20)
    try:
        yield Database("postgres", url, engine)
    finally:
        await engine.close_connection_pool()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def database(
    request: pytest.FixtureRequest,
    certs_dir: Path,
    sqlite_database: Database,
    postgres_database: Database | None,
) -> AsyncIterator[Database]:
    """A clean database of each kind, in an app runtime of its own (fresh caches and
    clients, closed after the test; the session's engine and pool outlive it)."""
    found = sqlite_database if request.param == "sqlite" else postgres_database
    assert found is not None
    settings = settings_module.Settings(
        database_url=found.url, base_url="http://testserver.local", certs_dir=certs_dir
    )
    async with wiring.running(settings, engine=found.engine):
        await _empty(found)
        yield found
        await _assert_ledger_agrees()


async def _assert_ledger_agrees() -> None:
    """The ledger invariant, after every database test: each account's balance equals its
    available lots, each lot its journal entries, the journal balance + pending - debt."""
    from wallet import clock
    from wallet.ledger import reads as ledger_reads

    rows = await db.raw("SELECT id FROM account ORDER BY id")
    problems = {}
    for row in rows:
        found = await ledger_reads.reconcile(row["id"], now=clock.now())
        if found:
            problems[row["id"]] = found
    assert not problems, f"ledger does not reconcile: {problems}"


async def _empty(found: Database) -> None:
    tables = [t._meta.tablename for t in db.all_tables()]
    if found.kind == "postgres":
        await found.engine.run_ddl(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        import sqlite3

        path = found.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            connection.executescript(
                "PRAGMA foreign_keys = OFF;" + "".join(f"DELETE FROM {table};" for table in tables)
            )


@pytest.fixture
async def client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The app over real HTTP semantics, in this event loop (Litestar's own test client runs
    the app on another loop, where the PostgreSQL pool of this one cannot be used)."""
    from wallet.app import create_app

    app = create_app(manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        yield http


@dataclass
class SmtpSink:
    """A real SMTP server on loopback that keeps what it receives."""

    host: str
    port: int
    messages: list[Any]
    raw: list[bytes] = field(default_factory=list)
    """Each message as it came over the wire (the DATA bytes), in the order received."""

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture
async def smtp_sink(database: Database) -> AsyncIterator[SmtpSink]:
    """aiosmtpd on a free loopback port; the service's settings point at it."""
    import dataclasses
    import email
    import email.policy
    import socket

    from aiosmtpd.controller import Controller

    received: list[Any] = []
    raw: list[bytes] = []

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            raw.append(envelope.original_content)
            received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    settings_module.override(
        dataclasses.replace(settings_module.get(), smtp_host="127.0.0.1", smtp_port=port)
    )
    try:
        yield SmtpSink("127.0.0.1", port, received, raw)
    finally:
        controller.stop()  # the runtime closes its SMTP connections as the test ends


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(database: Database, smtp_sink: SmtpSink, certs_dir: Path) -> Iterator[str]:
    """``uvicorn wallet.asgi:app`` in its own process on the test database (an in-process
    server would need its own event loop, where this loop's PostgreSQL pool cannot go)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "WALLET_DATABASE_URL": database.url,
        "WALLET_BASE_URL": base,
        "WALLET_SMTP_HOST": smtp_sink.host,
        "WALLET_SMTP_PORT": str(smtp_sink.port),
        "WALLET_EMBEDDED_WORKER": "false",
        "WALLET_CERTS_DIR": str(certs_dir),
        "WALLET_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "wallet.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
