"""The app runtime: what the app opens at start-up it closes at shutdown, and a runtime
built after another starts from nothing of the first one's."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
from piccolo.engine.postgres import PostgresEngine

from tests.conftest import Database
from tests.support.apns_standin import running_apns
from tests.support.google_standin import running_google
from wallet import clock, db, runtime, wiring
from wallet import settings as settings_module
from wallet.app import create_app
from wallet.passsync import apns, google_api, webservice
from wallet.platform import events
from wallet.receipts.events import ReceiptPosted
from wallet.rules import service as rules


async def test_the_apps_shutdown_closes_the_push_clients_and_the_database(
    database: Database, certs_dir: Path, tmp_path: Path
) -> None:
    test_runtime = runtime.current()
    async with running_apns(certs_dir, tmp_path) as apple, running_google(certs_dir) as google:
        settings = dataclasses.replace(
            settings_module.get(),
            apns_url=apple.url,
            apns_ca=str(certs_dir / "apple-root.pem"),
            google_api_url=google.url,
            embedded_worker=True,  # as `wallet serve` runs: the worker stops with the app
            db_pool_size=2,  # a PostgreSQL shared by many test runs
        )
        app = create_app(settings=settings)
        async with app.lifespan():
            app_runtime = runtime.current()
            assert app_runtime is not test_runtime
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                assert (await http.get("/ready")).status_code == 200
            # A push and a Google call as the worker makes them: both connections open.
            apple_client = apns.client()
            await apple_client.push("a" * 64)
            google_client = google_api.client()
            await google_client.patch_object("3388000000000000000.missing", {})
            assert not apple_client._http.is_closed
            assert not google_client._http.is_closed
            engine: Any = app_runtime.engine
            open_sqlite = list(getattr(engine, "_idle", []))
            if isinstance(engine, PostgresEngine):
                assert engine.pool is not None
            else:
                assert open_sqlite, "the app's requests left no idle SQLite connection"

        assert apple_client._http.is_closed
        assert google_client._http.is_closed
        if isinstance(engine, PostgresEngine):
            assert engine.pool is None
        else:
            assert engine._idle == []
            assert all(connection._connection is None for connection in open_sqlite)
    # The test's own runtime is back, its tables bound to its engine.
    assert runtime.current() is test_runtime
    assert rules.ProgramRules._meta.db is test_runtime.engine


async def test_two_runtimes_built_one_after_another_share_no_caches(
    database: Database,
) -> None:
    now = clock.now()
    settings = settings_module.get()
    async with wiring.running(settings, engine=database.engine) as first:
        await rules.rules_at(now)  # a new program's first use makes its rules (not cached)
        name = (await rules.rules_at(now)).program_name
        signer = webservice.signer()
        # Someone changes the rules behind the service's back (another process).
        await db.raw("UPDATE program_rules SET program_name = {}", "Renamed")
        assert (await rules.rules_at(now)).program_name == name  # cached a few seconds
        assert first.caches.rules is not None
    async with wiring.running(settings, engine=database.engine) as second:
        assert second.caches.rules is None
        assert (await rules.rules_at(now)).program_name == "Renamed"
        assert webservice.signer() is not signer
        assert second.subscribers is not first.subscribers
        # Each runtime has the event subscriptions of its own build, once each.
        assert events.subscribers(ReceiptPosted) == second.subscribers[ReceiptPosted]
        assert second.subscribers[ReceiptPosted] == first.subscribers[ReceiptPosted]
        assert len(set(map(id, events.subscribers(ReceiptPosted)))) == len(
            events.subscribers(ReceiptPosted)
        )


async def test_a_closed_runtime_makes_no_new_clients(database: Database) -> None:
    async with wiring.running(settings_module.get(), engine=database.engine) as built:
        pass
    assert built.closed
    before = runtime.activate(built)
    try:
        try:
            apns.client()
        except RuntimeError as exc:
            assert "closed" in str(exc)
        else:
            raise AssertionError("a closed runtime made an APNs client nobody would close")
    finally:
        runtime.activate(before)
