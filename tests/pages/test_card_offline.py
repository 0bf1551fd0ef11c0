"""The card works on any phone: installable from the browser (a web app manifest with
icons, a service worker) and, once seen, opening with its QR code and number with no
network, in a real headless Chromium at a phone's size."""

from __future__ import annotations

import asyncio
import io

import httpx
from PIL import Image
from pyzbar.pyzbar import decode

from tests.pages.cdp import chromium
from tests.pages.test_browser import _save


async def _wait_for(tab, expression: str, seconds: float = 20) -> None:
    for _ in range(int(seconds * 10)):
        if await tab.js(expression):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never true: {expression}")


async def test_the_card_is_installable_and_opens_offline_with_its_qr(database, server):
    kind = database.kind
    async with httpx.AsyncClient(base_url=server) as http:
        manifest = (await http.get("/manifest.webmanifest")).json()
        assert manifest["start_url"] == "/card" and manifest["display"] == "standalone"
        for icon in manifest["icons"]:
            png = await http.get(icon["src"])
            size = int(icon["sizes"].split("x")[0])
            assert Image.open(io.BytesIO(png.content)).size == (size, size)
        join = (await http.get("/join")).text
        assert 'id="no-wallet"' in join and "без интернета" in join

    async with chromium() as tab:
        await tab.open(f"{server}/join")
        await tab.fill("#name", "Анна Смирнова")
        await tab.fill("#email", "anna.offline@example.ru")
        await tab.tick("#consent_program")
        await tab.tick("#consent_data")
        await tab.click_and_wait("#join")
        assert (await tab.url()).endswith("/card")
        assert await tab.csp_violations() == []
        number = await tab.text("#card-number")
        # The worker installs (keeping the card) and takes the page over.
        await _wait_for(tab, "navigator.serviceWorker.controller !== null")
        await _wait_for(
            tab,
            "(window.__cached = window.__cached || caches.open('wallet-card-v1')"
            ".then(c => c.match('/card')).then(r => window.__hit = !!r)) && window.__hit",
        )

        await tab.send(
            "Network.emulateNetworkConditions",
            offline=True,
            latency=0,
            downloadThroughput=-1,
            uploadThroughput=-1,
        )
        await tab.open(f"{server}/card")
        assert await tab.text("#card-number") == number
        png = await tab.screenshot()
        _save(f"{kind}-card-offline.png", png)
        # The QR on the offline page still reads as the card number.
        codes = decode(Image.open(io.BytesIO(png)).convert("L"))
        assert [c.data.decode() for c in codes] == [number.replace(" ", "")]
        # And it really is offline: any other page fails to load.
        fails = await tab.send(
            "Runtime.evaluate",
            expression="fetch('/history').then(() => 'loaded', () => 'failed')",
            awaitPromise=True,
            returnByValue=True,
        )
        assert fails["result"]["value"] == "failed"
