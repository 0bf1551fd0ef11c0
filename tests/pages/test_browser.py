"""The shopper's day in a real headless Chromium at a phone's size, against the app served
by uvicorn on loopback, with a real SMTP server catching the sign-in code.

Screenshots land in test-artifacts/screenshots/ (not committed) for a person to look at.
"""

from __future__ import annotations

import asyncio
import io
import time
from datetime import timedelta

import httpx
from PIL import Image
from pyzbar.pyzbar import decode

from tests.conftest import ROOT
from tests.pages.cdp import Tab, chromium
from tests.pages.conftest import code_in
from tests.support.shop import bearer, iso, line, make_key, make_store
from wallet import clock, db

SHOTS = ROOT / "test-artifacts" / "screenshots"


def _save(name: str, png: bytes) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / name).write_bytes(png)


async def _shot(tab: Tab, name: str) -> bytes:
    """A screenshot, after checking the page rendered without the CSP blocking anything."""
    assert await tab.csp_violations() == [], name
    png = await tab.screenshot()
    _save(name, png)
    return png


async def test_a_shopper_joins_from_the_poster_signs_in_by_code_and_watches_cashback_move(
    database, server, smtp_sink
):
    from wallet.offers import service as offers
    from wallet.offers.schemas import OfferIn

    kind = database.kind
    await make_store("MSK-001")
    pos_key = await make_key("pos", "MSK-001")
    async with chromium() as tab:
        # The poster's QR leads here.
        await tab.open(f"{server}/join?store=MSK-001")
        assert "Тверская, 12" in await tab.text("main")
        await _shot(tab, f"{kind}-1-join.png")
        await tab.fill("#name", "Анна Смирнова")
        await tab.fill("#email", "anna@example.ru")
        await tab.tick("#consent_program")
        await tab.tick("#consent_data")
        await tab.click_and_wait("#join")
        assert (await tab.url()).endswith("/card")
        shot = await _shot(tab, f"{kind}-2-card.png")
        assert Image.open(io.BytesIO(shot)).size == (390, 844)
        number = (await tab.text("#card-number")).replace(" ", "")
        [found] = decode(Image.open(io.BytesIO(shot)))
        assert found.data.decode() == number

        await tab.click_and_wait("#signout")
        assert (await tab.url()).endswith("/signin")
        await _shot(tab, f"{kind}-3-signin.png")
        await tab.fill("#email", "anna@example.ru")
        await tab.click_and_wait("#send-code")
        [message] = smtp_sink.to("anna@example.ru")
        await tab.fill("#code", code_in(message))
        await _shot(tab, f"{kind}-4-code.png")
        await tab.click_and_wait("#submit-code")
        assert (await tab.url()).endswith("/card")
        assert (await tab.text("#card-number")).replace(" ", "") == number

        await tab.open(f"{server}/cashback")
        assert await tab.text("#no-offer")
        async with db.write_transaction():
            await offers.create_offer(
                OfferIn(name="Умный кешбэк", starts_at=clock.now() - timedelta(days=1)),
                actor="test",
                now=clock.now(),
            )
        await tab.open(f"{server}/cashback")
        await _shot(tab, f"{kind}-5-cashback-offer.png")
        await tab.click_and_wait("#want-cashback")
        before = await tab.text("#spent")
        async with httpx.AsyncClient(base_url=server) as http:
            reply = await http.post(
                "/api/v1/pos/receipts",
                json={
                    "receipt_id": "R1",
                    "card_number": number,
                    "occurred_at": iso(clock.now() - timedelta(seconds=1)),
                    "lines": [line(100_000)],
                    "redeem_points": 0,
                },
                headers=bearer(pos_key),
            )
            assert reply.status_code == 201, reply.text
        await tab.open(f"{server}/cashback")
        after = await tab.text("#spent")
        assert before != after and after == "1\u00a0000\u00a0₽"
        await _shot(tab, f"{kind}-6-cashback-progress.png")

        await tab.open(f"{server}/history")
        assert "Чек R1" in await tab.text("main")
        await _shot(tab, f"{kind}-7-history.png")
        await tab.open(f"{server}/card")
        assert await tab.text("#balance") == "50"


async def test_the_api_manual_renders_offline_under_its_csp(database, server):
    """Chromium here has no way out to the internet: the viewer must come from us."""
    async with chromium(lang="en") as tab:
        await tab.open(f"{server}/schema")
        deadline = time.monotonic() + 30
        while not await tab.js("document.querySelectorAll('.opblock').length"):
            assert time.monotonic() < deadline, "Swagger UI drew no operations"
            await asyncio.sleep(0.2)
        assert "Loyalty wallet" in await tab.text(".info")
        assert "/api/v1/pos/receipts" in await tab.text("#swagger-ui")
        await _shot(tab, f"{database.kind}-schema.png")
