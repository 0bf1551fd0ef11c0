"""Tiers and RFM groups at month ends in the program-health report, on both databases: the
worker records every account at each month end, and the report shows the distribution and
who moved (this month computed now)."""

from __future__ import annotations

import asyncio
import os
import sys
from asyncio.subprocess import PIPE
from datetime import timedelta

import jsonschema_rs

from tests.conftest import ROOT
from tests.offers.support import in_this_month, mid_month, this_month
from tests.support.shop import Shop, bearer, line, make_key
from wallet import clock, db
from wallet.offers import service
from wallet.platform import worker
from wallet.segments import standing


async def _joined(shopper, month: str) -> None:
    """The shopper joined on the 1st of ``month``."""
    joined, _ = service.month_bounds(month)
    await db.raw("UPDATE account SET created_at = {} WHERE id = {}", joined, shopper.account_id)
    await db.raw("UPDATE member SET created_at = {} WHERE account = {}", joined, shopper.account_id)


async def _health(client, key, **params):
    """The report's month ends by month, checked against the reply the OpenAPI document
    describes (the new fields included, ``from`` by that name)."""
    reply = await client.get("/api/v1/admin/reports/health", params=params, headers=bearer(key))
    assert reply.status_code == 200, reply.text
    document = (await client.get("/schema/openapi.json")).json()
    operation = document["paths"]["/api/v1/admin/reports/health"]["get"]
    described = operation["responses"]["200"]["content"]["application/json"]["schema"]
    schema = {**described, "components": document["components"]}
    jsonschema_rs.validate(schema, reply.json())
    standing = document["components"]["schemas"]["StandingMonth"]["properties"]
    assert {"tiers", "rfm_groups", "tier_moves", "rfm_moves", "live"} <= set(standing)
    assert "from" in document["components"]["schemas"]["Move"]["properties"]
    return {m["month"]: m for m in reply.json()["standings"]}


async def test_a_big_receipt_moves_one_of_two_shoppers_up_a_tier(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    month = this_month()
    last, before = service.shift_month(month, -1), service.shift_month(month, -2)
    anna, boris = [await shop.enrol(n) for n in ("Анна А", "Борис Б")]
    for shopper in (anna, boris):
        await _joined(shopper, before)
    # Last month both bought below the gold threshold (15,000 ₽ spent in all).
    await shop.receipt(anna.card, "A1", [line(500_000)], at=mid_month(last))
    await shop.receipt(boris.card, "B1", [line(200_000)], at=mid_month(last))

    # The worker records the month that ended; a second run writes nothing twice.
    await worker.run_until_idle(now=clock.now())
    assert [r.month for r in await standing.recorded_months(before, month)] == [last]
    rows = await db.raw("SELECT COUNT(*) AS n FROM account_standing_month")
    assert await standing.record_month(last, now=clock.now()) is None
    assert await db.raw("SELECT COUNT(*) AS n FROM account_standing_month") == rows

    # This month Anna's big receipt takes her past 15,000 ₽: gold.
    await shop.receipt(anna.card, "A2", [line(1_200_000)], at=in_this_month())
    assert (await shop.me(anna))["tier"] == "Золотой"

    # RFM groups now are the last nightly scoring's (here made on demand).
    scored = await client.post("/api/v1/admin/segments/rfm", headers=bearer(key))
    nightly = {g["group"]: g["accounts"] for g in scored.json()["groups"]}
    report = await _health(client, key, **{"from": before})
    assert report[before]["recorded"] is False and report[before]["tier_moves"] is None
    ended = report[last]
    assert ended["recorded"] and not ended["live"]
    assert {t["tier"]: t["accounts"] for t in ended["tiers"]} == {"Базовый": 2, "Золотой": 0}
    # Both first bought in the last two weeks of that month: new shoppers then.
    assert {g["group"]: g["accounts"] for g in ended["rfm_groups"]}["new"] == 2
    assert ended["tier_moves"] is None  # the month end before it was not recorded

    now = report[month]
    assert now["live"] and now["recorded"]
    assert {t["tier"]: t["accounts"] for t in now["tiers"]} == {"Базовый": 1, "Золотой": 1}
    moves = now["tier_moves"]
    assert (moves["up"], moves["down"], moves["same"], moves["joined"]) == (1, 0, 1, 0)
    assert {(m["from"], m["to"]): m["accounts"] for m in moves["matrix"]} == {
        ("Базовый", "Базовый"): 1,
        ("Базовый", "Золотой"): 1,
    }
    assert {g["group"]: g["accounts"] for g in now["rfm_groups"]} == nightly
    assert sum(m["accounts"] for m in now["rfm_moves"]) == 2
    assert {m["from"] for m in now["rfm_moves"]} == {"new"}

    book = await client.get(
        "/api/v1/admin/reports/health",
        params={"from": before, "format": "csv"},
        headers=bearer(key),
    )
    assert book.status_code == 200
    client.cookies.set("wallet_console", key, path="/console")
    page = await client.get("/console/reports/health", params={"from": before})
    assert page.status_code == 200, page.text
    assert "Переходы между уровнями" in page.text and "Новички" in page.text


async def test_a_tier_that_drops_shows_as_a_move_down_between_recorded_month_ends(client, database):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    # Gold on the spend of the last 2 months (this one included): gold lapses when the
    # months that earned it leave the window.
    reply = await client.put(
        "/api/v1/admin/rules",
        json={
            "tier_basis": "rolling",
            "tier_window_months": 2,
            "effective_from": (clock.now() - timedelta(days=400)).isoformat(),
        },
        headers=bearer(shop.admin_key),
    )
    assert reply.status_code == 200, reply.text
    month = this_month()
    m3, m2, m1 = (service.shift_month(month, -k) for k in (3, 2, 1))
    vera = await shop.enrol("Вера В")
    await _joined(vera, service.shift_month(month, -4))
    await shop.receipt(vera.card, "V1", [line(2_000_000)], at=mid_month(m3))
    # The month ends before the worker ran are filled in from the receipts, oldest first.
    env = {**os.environ, "WALLET_DATABASE_URL": database.url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "wallet", "record-standings", "--since", m3]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    assert out.decode().splitlines() == [f"{m} 1 accounts" for m in (m3, m2, m1)]
    report = await _health(client, key, **{"from": m3})
    assert report[m3]["tier_moves"] is None
    assert {t["tier"]: t["accounts"] for t in report[m3]["tiers"]}["Золотой"] == 1
    assert report[m2]["tier_moves"]["same"] == 1
    assert report[m1]["tier_moves"]["down"] == 1
    assert report[m1]["tier_moves"]["matrix"] == [
        {"from": "Золотой", "to": "Базовый", "accounts": 1}
    ]
    # Now (the window's spend computed live): still the base tier, as the month ended.
    assert {t["tier"]: t["accounts"] for t in report[month]["tiers"]}["Базовый"] == 1
    assert report[month]["tier_moves"]["same"] == 1
