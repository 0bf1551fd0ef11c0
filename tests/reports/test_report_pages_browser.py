"""The reports' console pages in a real headless Chromium at a desktop's size, against the
app served by uvicorn on loopback: each page draws, its chart is inline SVG that the
page's Content-Security-Policy lets through, and its numbers stand beside the chart.

Screenshots land in test-artifacts/screenshots/ (not committed) for a person to look at.
"""

from __future__ import annotations

import asyncio
import io

import httpx
from PIL import Image

from tests.conftest import ROOT
from tests.offers.support import OFFER
from tests.pages.cdp import Tab, chromium
from tests.support.shop import bearer, iso, line, make_key, make_store
from wallet import clock
from wallet.platform import worker

SHOTS = ROOT / "test-artifacts" / "screenshots"
CONSENTS = {
    "program": True,
    "personal_data": True,
    "terms_version": "2026-01",
    "marketing_email": True,
}


async def _shot(tab: Tab, name: str) -> Image.Image:
    assert await tab.csp_violations() == [], name
    png = await tab.screenshot()
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / name).write_bytes(png)
    return Image.open(io.BytesIO(png))


def _drawn(image: Image.Image) -> bool:
    """More than a blank page: the chart's bars put many colours on it."""
    return len(image.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 50


async def test_the_report_pages_draw_their_charts_beside_their_numbers(database, server, smtp_sink):
    kind = database.kind
    await make_store("MSK-001")
    pos = await make_key("pos", "MSK-001")
    marketer = await make_key("marketer")
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        cards = []
        for n in range(10):
            joined = await http.post(
                "/api/v1/cards",
                json={"name": f"Покупатель {n}", "email": f"p{n}@example.ru", "consents": CONSENTS},
                headers=bearer(pos),
            )
            assert joined.status_code == 201, joined.text
            cards.append(joined.json()["card_number"])
        created = await http.post(
            "/api/v1/admin/campaigns",
            json={"name": "Осенняя распродажа", "subject": "Скидки", "holdout_bp": 5000},
            headers=bearer(marketer),
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        sent = await http.post(
            f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(marketer)
        )
        assert sent.status_code == 200, sent.text
        await worker.run_until_idle()
        # Bought after the campaign started (its start is the worker's "now" above).
        await asyncio.sleep(0.05)
        for n, card in enumerate(cards[:7]):
            posted = await http.post(
                "/api/v1/pos/receipts",
                json={
                    "receipt_id": f"R{n}",
                    "card_number": card,
                    "occurred_at": iso(clock.now()),
                    "lines": [line(50_000 + 10_000 * n)],
                },
                headers=bearer(pos),
            )
            assert posted.status_code == 201, posted.text
        offer = await http.post(
            "/api/v1/admin/offers",
            json={**OFFER, "starts_at": "2000-01-01T00:00:00+03:00"},
            headers=bearer(marketer),
        )
        assert offer.status_code == 201, offer.text
        report = (
            await http.get(
                f"/api/v1/admin/reports/campaigns/{campaign_id}", headers=bearer(marketer)
            )
        ).json()
    recipients, held = report["recipients"], report["held_out"]
    assert recipients["shoppers"] + held["shoppers"] == 10
    assert recipients["receipts"] + held["receipts"] == 7

    async with chromium() as tab:
        await tab.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=1100,
            deviceScaleFactor=1,
            mobile=False,
        )
        await tab.send(
            "Network.setCookie", name="wallet_console", value=marketer, url=f"{server}/console"
        )
        await tab.open(f"{server}/console/reports/campaigns/{campaign_id}")
        assert "Аудитория слишком мала, чтобы сказать" in await tab.text("#verdict")
        assert "Доля купивших" in await tab.text("#metrics")
        groups = await tab.text("#groups")
        # All ten shoppers in one group or the other, the seven receipts among them.
        rows = [row.split("\t") for row in groups.splitlines()]
        assert rows[1][:4] == [
            "Получатели",
            *(str(recipients[k]) for k in ("shoppers", "buyers", "receipts")),
        ]
        assert rows[2][:4] == [
            "Контрольная группа",
            *(str(held[k]) for k in ("shoppers", "buyers", "receipts")),
        ]
        shot = await _shot(tab, f"{kind}-report-campaign.png")
        assert await tab.js("document.querySelectorAll('svg .bar').length") >= 1
        assert _drawn(shot)

        await tab.open(f"{server}/console/reports/offers/{offer.json()['id']}")
        assert "Результат кешбэка" in await tab.text("main")
        assert len((await tab.text("#months")).splitlines()) == 13  # header and 12 months
        assert _drawn(await _shot(tab, f"{kind}-report-offer.png"))

        await tab.open(f"{server}/console/reports/health")
        assert "Удержание" in await tab.text("main")
        # This month's cohort: the ten who joined, seven of whom bought (70 %).
        assert "70 %" in (await tab.text("#cohorts")).replace("\u00a0", " ")
        # Tiers now, computed live (no month end recorded in this run): the ten in the base
        # tier, drawn as a chart beside the table.
        assert "(сейчас)\t10\t0" in await tab.text("#tiers")
        assert await tab.js("document.querySelectorAll('main svg').length") == 2
        assert _drawn(await _shot(tab, f"{kind}-report-health.png"))

        await tab.open(f"{server}/console/reports/liability")
        assert "Обязательства по баллам" in await tab.text("main")
        assert await tab.js("document.querySelectorAll('main svg').length") == 1
        assert _drawn(await _shot(tab, f"{kind}-report-liability.png"))

        await tab.open(f"{server}/console/reports/movements")
        assert "Движение баллов" in await tab.text("main")
        assert await tab.js("document.querySelectorAll('main svg').length") == 1
        assert _drawn(await _shot(tab, f"{kind}-report-movements.png"))
