"""A marketer's promotion, from an empty list to a running promotion, in a real headless
Chromium against the app served by uvicorn: a refused form, the simulation, activation.

Screenshots land in test-artifacts/screenshots/ (not committed) for a person to look at.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.conftest import ROOT
from tests.pages.cdp import Tab, chromium
from tests.support.shop import bearer, iso, line, make_key, make_store
from wallet import clock
from wallet import settings as settings_module

SHOTS = ROOT / "test-artifacts" / "screenshots"


async def _shot(tab: Tab, name: str) -> None:
    assert await tab.csp_violations() == [], name
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / name).write_bytes(await tab.screenshot())


async def test_a_marketer_creates_simulates_and_activates_a_promotion_in_chromium(database, server):
    kind = database.kind
    await make_store("MSK-001")
    pos_key = await make_key("pos", "MSK-001")
    marketer_key = await make_key("marketer")
    async with httpx.AsyncClient(base_url=server) as http:
        joined = await http.post(
            "/api/v1/cards",
            json={
                "name": "Анна Смирнова",
                "email": "anna@example.ru",
                "consents": {"program": True, "personal_data": True, "terms_version": "2026-01"},
            },
        )
        card = joined.json()["card_number"]
        sold = await http.post(
            "/api/v1/pos/receipts",
            json={
                "receipt_id": "OLD-1",
                "card_number": card,
                "occurred_at": iso(clock.now() - timedelta(days=3)),
                "lines": [line(100_000, "dairy", "MILK"), line(40_000, "bakery", "BREAD")],
                "redeem_points": 0,
            },
            headers=bearer(pos_key),
        )
        assert sold.status_code == 201, sold.text
    day = clock.local_date(clock.now(), settings_module.get().tz)

    async with chromium() as tab:
        await tab.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        await tab.open(f"{server}/console/promotions")
        assert (await tab.url()).endswith("/console/login")
        await tab.fill("#key", marketer_key)
        await tab.click_and_wait('form[action="/console/login"] button')
        await tab.open(f"{server}/console")
        await tab.click_and_wait('header a[href="/console/promotions"]')
        assert "Акций пока нет" in await tab.text("#promotions")
        await _shot(tab, f"{kind}-promotions-1-empty-list.png")

        await tab.click_and_wait("#new-promotion")
        await tab.fill("#name", "Молочка ×2")
        await tab.fill("#times", "0")
        await tab.fill("#categories", "молочка-из-космоса")
        await tab.fill("#starts_on", day.isoformat())
        await tab.fill("#ends_on", (day - timedelta(days=1)).isoformat())
        await tab.click_and_wait("#save")
        assert "Множитель: от 2 до 100" in await tab.text("#error-times")
        assert "раньше, чем начинается" in await tab.text("#error-ends_on")
        assert await tab.js("document.querySelector('#name').value") == "Молочка ×2"
        assert await tab.js("document.querySelector('#categories').value") == ("молочка-из-космоса")
        await _shot(tab, f"{kind}-promotions-2-refused-form.png")

        await tab.fill("#times", "2")
        await tab.fill("#ends_on", (day + timedelta(days=10)).isoformat())
        await tab.click_and_wait("#save")
        assert "ни в одном чеке: молочка-из-космоса" in await tab.text("#error-categories")
        await tab.fill("#categories", "dairy")
        await tab.fill("#starts_on", (day - timedelta(days=7)).isoformat())
        await tab.click_and_wait("#save")
        assert "/console/promotions/" in await tab.url()
        assert "черновик" in await tab.text("#status")
        await _shot(tab, f"{kind}-promotions-3-draft.png")

        await tab.fill("#days", "30")
        await tab.click_and_wait("#simulate")
        assert await tab.text("#sim-matched") == "1"
        assert await tab.text("#sim-points") == "50"
        assert await tab.text("#sim-shoppers") == "1"
        await _shot(tab, f"{kind}-promotions-4-simulation.png")

        await tab.click_and_wait("#activate")
        assert "действует" in await tab.text("#status")
        assert "Акция запущена" in await tab.text("#notice")
        await _shot(tab, f"{kind}-promotions-5-active.png")

        async with httpx.AsyncClient(base_url=server) as http:
            doubled = await http.post(
                "/api/v1/pos/receipts",
                json={
                    "receipt_id": "NEW-1",
                    "card_number": card,
                    "occurred_at": iso(clock.now() - timedelta(seconds=1)),
                    "lines": [line(100_000, "dairy", "MILK")],
                    "redeem_points": 0,
                },
                headers=bearer(pos_key),
            )
            assert doubled.json()["earned_points"] == 100
        await tab.open(f"{server}/console/promotions")
        row = await tab.text("#promotions tr[data-promotion]")
        assert "Молочка ×2" in row and "действует" in row
        assert await tab.text("#promotions tr[data-promotion] .uses") == "1"
        assert await tab.text("#promotions tr[data-promotion] .points") == "50"
        await _shot(tab, f"{kind}-promotions-6-list-with-counters.png")

        # A coupon promotion: its batch of codes made on its page, ready to download once.
        await tab.click_and_wait("#new-promotion")
        await tab.fill("#name", "Молочка −10% по купону")
        await tab.js("document.querySelector('#kind').value = 'percent_off'")
        await tab.fill("#percent", "10")
        await tab.fill("#categories", "dairy")
        await tab.tick("#coupon")
        await tab.click_and_wait("#save")
        assert "только по купону" in await tab.text("main")
        await tab.fill("#count", "500")
        await tab.click_and_wait("#make-coupons")
        assert "500" in await tab.text("#batches")
        assert await tab.js("document.querySelectorAll('#batches a.download').length") == 1
        await _shot(tab, f"{kind}-promotions-7-coupon-batch.png")
