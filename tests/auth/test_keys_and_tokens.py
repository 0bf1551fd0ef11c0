"""Keys can be listed and revoked (API and CLI); shopper tokens expire and end at sign-out."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from datetime import timedelta

from tests.conftest import ROOT
from tests.pages.conftest import csrf_of, join
from tests.support.shop import Shop, bearer
from wallet import clock, db
from wallet import settings as settings_module
from wallet.auth import service as auth


async def _wallet(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run the real ``wallet`` command in its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wallet",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _identify(shop: Shop, card: str, key: str) -> int:
    reply = await shop.client.get(f"/api/v1/pos/cards/{card}", headers=bearer(key))
    return reply.status_code


async def test_an_admin_lists_keys_and_a_revoked_till_key_stops_at_once(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", email="anna@example.ru")
    assert await _identify(shop, anna.card, shop.pos_key) == 200  # now in the auth cache
    listed = await client.get("/api/v1/admin/keys", headers=bearer(shop.admin_key))
    assert listed.status_code == 200
    keys = listed.json()
    assert {key["role"] for key in keys} == {"pos", "admin", "support"}
    assert all(shop.pos_key not in str(key) for key in keys)
    [pos] = [key for key in keys if key["role"] == "pos"]
    assert pos["revoked_at"] is None and shop.pos_key.startswith(pos["prefix"])

    refused = await client.post(
        f"/api/v1/admin/keys/{pos['id']}/revoke", headers=bearer(shop.support_key)
    )
    assert refused.status_code == 403
    revoked = await client.post(
        f"/api/v1/admin/keys/{pos['id']}/revoke", headers=bearer(shop.admin_key)
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert await _identify(shop, anna.card, shop.pos_key) == 401
    [audit] = await db.raw(
        "SELECT actor, action, subject FROM audit_event WHERE action = 'key.revoke'"
    )
    assert audit["subject"] == f"api_key:{pos['id']}" and audit["actor"].startswith("admin:")
    missing = await client.post("/api/v1/admin/keys/999999/revoke", headers=bearer(shop.admin_key))
    assert missing.status_code == 404 and missing.json()["code"] == "key_not_found"


async def test_a_key_revoked_by_another_process_stops_within_a_second(client, database):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", email="anna@example.ru")
    assert await _identify(shop, anna.card, shop.pos_key) == 200
    env = {**os.environ, "WALLET_DATABASE_URL": database.url}
    code, listed, err = await _wallet(env, "keys", "list")
    assert code == 0, err
    [line] = [row for row in listed.splitlines() if " pos " in row]
    assert shop.pos_key not in listed
    key_id = line.split()[0]
    code, out, err = await _wallet(env, "keys", "revoke", key_id)
    assert code == 0 and "revoked" in out, err
    await asyncio.sleep(auth.CACHE_SECONDS + 0.1)
    assert await _identify(shop, anna.card, shop.pos_key) == 401
    code, _, err = await _wallet(env, "keys", "revoke", "999999")
    assert code == 1 and "no key with id 999999" in err


async def test_a_shopper_token_expires_after_the_configured_days(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", email="anna@example.ru")
    assert (await client.get("/api/v1/me", headers=anna.headers)).status_code == 200
    days = settings_module.get().shopper_token_days
    assert days == 90
    await db.raw(
        "UPDATE shopper_token SET created_at = {}",
        clock.now() - timedelta(days=days, minutes=1),
    )
    auth.forget_cache()
    expired = await client.get("/api/v1/me", headers=anna.headers)
    assert expired.status_code == 401 and expired.json()["code"] == "unauthorized"
    settings_module.override(dataclasses.replace(settings_module.get(), shopper_token_days=91))
    assert (await client.get("/api/v1/me", headers=anna.headers)).status_code == 200


async def test_api_sign_out_revokes_the_token_it_carries(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", email="anna@example.ru")
    ivan = await shop.enrol("Иван", email="ivan@example.ru")
    assert (await client.get("/api/v1/me", headers=anna.headers)).status_code == 200
    out = await client.post("/api/v1/me/signout", headers=anna.headers)
    assert out.status_code == 204
    assert (await client.get("/api/v1/me", headers=anna.headers)).status_code == 401
    assert (await client.get("/api/v1/me", headers=ivan.headers)).status_code == 200


async def test_page_sign_out_ends_the_session_even_for_a_copied_cookie(client):
    await join(client, name="Анна", email="anna@example.ru")
    cookie = client.cookies.get("wsession")
    card = await client.get("/card")
    assert card.status_code == 200
    await client.post("/signout", data={"csrf": csrf_of(card.text)})
    client.cookies.set("wsession", cookie)
    assert (await client.get("/card")).headers["location"] == "/signin"


async def test_fifty_requests_at_once_with_an_unseen_key_look_it_up_once(client, monkeypatch):
    """When a key's cache entry lapses under a till's load, the requests of that moment
    share one lookup; a wrong key still fails for every one of them."""
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна", email="anna@example.ru")
    auth._cache().clear()
    lookups = 0
    real = auth._look_up

    async def counted(*args: object) -> auth.Principal:
        nonlocal lookups
        lookups += 1
        await asyncio.sleep(0.05)  # a slow database: the others arrive while it runs
        return await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(auth, "_look_up", counted)
    replies = await asyncio.gather(*(_identify(shop, anna.card, shop.pos_key) for _ in range(50)))
    assert replies == [200] * 50
    assert lookups == 1
    wrong = await asyncio.gather(*(_identify(shop, anna.card, "wk_pos_nope") for _ in range(20)))
    assert wrong == [401] * 20
    assert lookups == 2
