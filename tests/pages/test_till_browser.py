"""The web till in a real headless Chromium, against the app served by uvicorn on loopback:
a cashier signs in with a till key, finds the shopper by a typed card number (on a
768x1024 tablet) or phone (on a 390x844 phone), quotes, posts, prints and returns, without
a camera. Screenshots land in test-artifacts/screenshots/ (not committed)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from passes import barcode
from tests.pages.cdp import Tab, chromium
from tests.pages.test_browser import _shot
from tests.support.shop import Shop, bearer, line
from wallet import clock
from wallet.receipts import spend_codes

TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}


async def _size(tab: Tab, size: dict[str, int]) -> None:
    await tab.send(
        "Emulation.setDeviceMetricsOverride",
        **size,
        deviceScaleFactor=1,
        mobile=size["width"] < 600,
    )


async def _until(tab: Tab, condition: str, what: str) -> None:
    deadline = time.monotonic() + 20
    while not await tab.js(condition):
        assert time.monotonic() < deadline, f"{what} never happened"
        await asyncio.sleep(0.1)


def _visible(element_id: str) -> str:
    return f"!document.getElementById({json.dumps(element_id)}).hidden"


async def _click(tab: Tab, selector: str) -> None:
    await tab.js(f"document.querySelector({json.dumps(selector)}).click()")


async def _fits(tab: Tab, width: int) -> None:
    """Nothing wider than the screen, and every button a finger can hit (>= 48 px)."""
    wide = await tab.js(
        f"[...document.querySelectorAll('body *')].filter(e => e.offsetParent !== null"
        f" && e.getBoundingClientRect().right > {width} + 1).map(e => e.id || e.className"
        " || e.tagName)"
    )
    assert wide == [], wide
    assert await tab.js("document.documentElement.scrollWidth") <= width
    small = await tab.js(
        "[...document.querySelectorAll('button')].filter(b => b.offsetParent !== null)"
        ".map(b => [b.id || b.textContent, b.getBoundingClientRect().height])"
        ".filter(([_, h]) => h < 48)"
    )
    assert small == [], small


async def _sign_in(tab: Tab, server: str, key: str, shots: str) -> None:
    await tab.open(f"{server}/till")
    await _shot(tab, f"{shots}-1-signin.png")
    await tab.fill("#key", key)
    await tab.click_and_wait("#login")
    assert (await tab.url()).endswith("/till")
    await _until(tab, "!!document.getElementById('who')", "the till page")


async def _promotions(http: httpx.AsyncClient, shop: Shop) -> None:
    # Categories are known once a receipt sold them.
    seeder = await shop.enrol("Сид Сидоров", "seed@example.ru")
    await shop.receipt(seeder.card, "SEED", [line(100, "dairy", "MILK")])
    for body in (
        {
            "name": "Молочка −20%",
            "conditions": [{"kind": "lines", "categories": ["dairy"]}],
            "effects": [{"kind": "percent_off", "percent_bp": 2000}],
        },
        {
            "name": "От 5000 ₽ — 100 баллов",
            "conditions": [{"kind": "min_total", "kopecks": 500_000}],
            "effects": [{"kind": "receipt_bonus", "points": 100}],
        },
    ):
        saved = await http.post(
            "/api/v1/admin/promotions", json=body, headers=bearer(shop.admin_key)
        )
        assert saved.status_code == 201, saved.text
        moved = await http.post(
            f"/api/v1/admin/promotions/{saved.json()['id']}/activate",
            headers=bearer(shop.admin_key),
        )
        assert moved.status_code == 200, moved.text


async def test_a_cashier_on_a_tablet_sells_by_a_typed_card_number_spends_points_and_returns(
    database, server
):
    kind = database.kind
    async with httpx.AsyncClient(base_url=server) as http:
        shop = await Shop.open(http)
        anna = await shop.enrol("Анна Смирнова", "anna@example.ru")
        await shop.give_points(anna.account_id, 500)
        async with chromium() as tab:
            await _size(tab, TABLET)
            await _sign_in(tab, server, shop.pos_key, f"{kind}-till-tablet")
            # The key itself is nowhere in the browser.
            cookies = (await tab.send("Network.getAllCookies"))["cookies"]
            assert cookies and all(shop.pos_key not in c["value"] for c in cookies)

            spaced = " ".join(anna.card[i : i + 4] for i in range(0, 16, 4))
            await tab.fill("#who", spaced)
            await _click(tab, "#find")
            await _until(tab, _visible("shopper"), "the shopper shown")
            assert await tab.text("#shopper-name") == "Анна Смирнова"
            assert await tab.text("#shopper-spendable") == "500"
            await _fits(tab, TABLET["width"])
            await _shot(tab, f"{kind}-till-tablet-2-shopper.png")

            await tab.fill("#total", "1500")
            await _click(tab, "#redeem-max")
            await _until(tab, _visible("quote-box"), "the quote")
            # Points may pay at most the balance here (500 of 1,500 ₽).
            assert await tab.js("document.getElementById('redeem').value") == "500"
            figures = await tab.text("#quote-figures")
            assert "1 000,00" in figures.replace("\u00a0", " ").replace("\u202f", " ")
            await _fits(tab, TABLET["width"])
            shot = await _shot(tab, f"{kind}-till-tablet-3-quote.png")
            assert Image.open(io.BytesIO(shot)).size == (768, 1024)

            await _click(tab, "#confirm")
            await _until(tab, _visible("done-box"), "the receipt posted")
            receipt_id = await tab.text("#done-receipt-id")
            assert receipt_id.startswith("W-")
            me = await shop.me(anna)
            # 500 spent; 5% of the 1,000 ₽ paid in money earned.
            assert me["balance"] == 500 - 500 + 50
            assert "Начислено баллов\n+50" in await tab.text("#done-figures")
            assert await tab.text("#shopper-balance") == "50"
            await _shot(tab, f"{kind}-till-tablet-4-done.png")
            # The printed slip is the result alone.
            await tab.send("Emulation.setEmulatedMedia", media="print")
            assert await tab.js("getComputedStyle(document.getElementById('who-box')).display") == (
                "none"
            )
            await _shot(tab, f"{kind}-till-tablet-5-print.png")
            await tab.send("Emulation.setEmulatedMedia", media="")

            await tab.fill("#return-id", receipt_id)
            await _click(tab, "#return-submit")
            await _until(
                tab, "document.getElementById('return-result').innerText.length", "the return"
            )
            assert (await shop.me(anna))["balance"] == 500
            await _shot(tab, f"{kind}-till-tablet-6-return.png")


async def test_a_cashier_on_a_phone_finds_the_shopper_by_phone_and_sees_the_promotions(
    database, server
):
    kind = database.kind
    async with httpx.AsyncClient(base_url=server) as http:
        shop = await Shop.open(http)
        await _promotions(http, shop)
        await shop.enrol("Борис Петров", "boris@example.ru", phone="+79123456789")
        async with chromium() as tab:
            await _size(tab, PHONE)
            await _sign_in(tab, server, shop.pos_key, f"{kind}-till-phone")
            await tab.fill("#who", "8 (912) 345-67-89")
            await _click(tab, "#find")
            await _until(tab, _visible("shopper"), "the shopper shown")
            assert await tab.text("#shopper-name") == "Борис Петров"
            assert await tab.text("#shopper-found") == "найден по телефону"
            await _shot(tab, f"{kind}-till-phone-2-shopper.png")

            await _click(tab, "#mode-lines")
            await tab.fill("#line-1-category", "dairy")
            await tab.fill("#line-1-amount", "1000")
            await _click(tab, "#add-line")
            await tab.fill("#line-2-category", "tobacco")
            await tab.fill("#line-2-amount", "200,50")
            await _click(tab, "#quote")
            await _until(tab, _visible("quote-box"), "the quote")
            await _fits(tab, PHONE["width"])
            await _shot(tab, f"{kind}-till-phone-3-quote.png")

            # What the page shows is the POS API's quote for the same lines.
            card = (
                await http.get(
                    "/api/v1/pos/lookup",
                    params={"phone": "+79123456789"},
                    headers=bearer(shop.pos_key),
                )
            ).json()["card_number"]
            pos: dict[str, Any] = (
                await http.post(
                    "/api/v1/pos/quotes",
                    json={
                        "card_number": card,
                        "lines": [
                            {
                                "sku": "LINE-1",
                                "category": "dairy",
                                "quantity": 1,
                                "amount": 100_000,
                            },
                            {
                                "sku": "LINE-2",
                                "category": "tobacco",
                                "quantity": 1,
                                "amount": 20_050,
                            },
                        ],
                    },
                    headers=bearer(shop.pos_key),
                )
            ).json()
            assert pos["discount_kopecks"] == 20_000
            shown = (await tab.text("#quote-figures")).replace("\u00a0", " ").replace("\u202f", " ")
            assert (
                pos["paid_kopecks"] == 100_050
                and "1 000,50" in shown
                and f"+{pos['earned_points']}" in shown
            )
            assert "Молочка −20%" in await tab.text("#quote-applied")
            [missed] = pos["not_applied"]
            assert missed["reason_ru"] in await tab.text("#quote-not-applied")

            await _click(tab, "#confirm")
            await _until(tab, _visible("done-box"), "the receipt posted")
            await _fits(tab, PHONE["width"])
            await _shot(tab, f"{kind}-till-phone-4-done.png")
            await _click(tab, "#next")
            await _until(tab, _visible("who-box"), "ready for the next shopper")


async def _paused(tab: Tab, path: str) -> dict[str, Any]:
    """The next request to ``path`` the browser holds (Fetch.requestPaused)."""
    deadline = time.monotonic() + 20
    while True:
        event = await asyncio.wait_for(tab.events.get(), max(0.1, deadline - time.monotonic()))
        if event["method"] == "Fetch.requestPaused" and event["params"]["request"]["url"].endswith(
            path
        ):
            return event["params"]  # type: ignore[no-any-return]


def _body_of(paused: dict[str, Any]) -> dict[str, Any]:
    request = paused["request"]
    if "postData" in request:
        return json.loads(request["postData"])  # type: ignore[no-any-return]
    raw = b"".join(base64.b64decode(e["bytes"]) for e in request["postDataEntries"])
    return json.loads(raw)  # type: ignore[no-any-return]


async def test_a_shopper_found_by_phone_confirms_spending_with_the_code_the_till_asks_for(
    database, server
):
    """A quote spending points for a shopper found by phone answers 422
    spend_code_required; the till asks for the code, has it texted again, and sends the
    same quote and then the receipt with the code the shopper got."""
    kind = database.kind
    async with httpx.AsyncClient(base_url=server) as http:
        shop = await Shop.open(http)
        boris = await shop.enrol("Борис Петров", "boris@example.ru", phone="+79123456789")
        await shop.give_points(boris.account_id, 100)
        async with chromium() as tab:
            await _size(tab, PHONE)
            await _sign_in(tab, server, shop.pos_key, f"{kind}-till-code")
            await tab.fill("#who", "+7 912 345 67 89")
            await _click(tab, "#find")
            await _until(tab, _visible("shopper"), "the shopper shown")
            await tab.fill("#total", "500")
            await tab.fill("#redeem", "50")
            await _click(tab, "#quote")
            await _until(tab, _visible("code-box"), "the till asking for the code")
            assert "код из SMS" in await tab.text("#code-message")
            await _shot(tab, f"{kind}-till-code-2-asked.png")

            await _click(tab, "#code-resend")
            await _until(tab, "document.getElementById('code-status').innerText", "a reply")
            code = await spend_codes.current(boris.account_id, now=clock.now())
            assert code is not None
            wrong = "000000" if code != "000000" else "111111"
            await tab.fill("#spend-code", wrong)
            await _click(tab, "#code-submit")
            await _until(
                tab,
                "document.getElementById('code-message').innerText.includes('неверный')",
                "the wrong code refused",
            )
            assert not await tab.js(_visible("done-box"))
            assert (await shop.me(boris))["balance"] == 100
            await tab.fill("#spend-code", f"{code[:3]} {code[3:]}")
            await _click(tab, "#code-submit")
            await _until(tab, _visible("quote-box"), "the quote")
            await _click(tab, "#confirm")
            await _until(tab, _visible("done-box"), "the receipt posted")
            assert (await shop.me(boris))["balance"] == 100 - 50 + (await _earned(tab))
            await _shot(tab, f"{kind}-till-code-3-done.png")


async def _earned(tab: Tab) -> int:
    text = await tab.text("#done-figures")
    line_ = next(x for x in text.split("\n") if x.startswith("+"))
    return int(line_.lstrip("+"))


def _y4m(png: bytes, path: Path, *, frames: int = 30) -> None:
    """A still video (YUV 4:2:0, 640x480) of ``png`` on white, for Chromium's fake camera."""
    width, height = 640, 480
    picture = Image.open(io.BytesIO(png)).convert("L")
    picture.thumbnail((width - 80, height - 80))
    frame = Image.new("L", (width, height), 255)
    frame.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (width * height // 4)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)


@pytest.mark.parametrize("kind", ["QR", "CODE_128", "PDF417"])
async def test_a_cashier_scans_the_card_with_the_tablets_camera(database, server, tmp_path, kind):
    """The camera films the card's barcode (Chromium's fake camera playing a video of it);
    the page decodes it (BarcodeDetector where the browser has it, else the vendored
    @zxing/library) and finds the shopper."""
    async with httpx.AsyncClient(base_url=server) as http:
        shop = await Shop.open(http)
        anna = await shop.enrol("Анна Смирнова", "anna@example.ru")
        video = tmp_path / "card.y4m"
        _y4m(barcode.png(anna.card, kind, scale=4), video)
        async with chromium(camera=str(video)) as tab:
            await _size(tab, TABLET)
            await _sign_in(tab, server, shop.pos_key, f"{database.kind}-till-scan-{kind}")
            await _click(tab, "#scan")
            try:
                await _until(tab, _visible("shopper"), "the scanned shopper shown")
            except AssertionError:
                # Once in a whole run (the first camera of the run, on a loaded machine) the
                # fake camera's stream did not start within 20 s: the cashier taps again.
                await _click(tab, "#stop-scan")
                await _click(tab, "#scan")
                await _until(tab, _visible("shopper"), "the scanned shopper shown (tapped twice)")
            assert await tab.text("#shopper-name") == "Анна Смирнова"
            assert (await tab.text("#shopper-found")).replace(" ", "") == anna.card
            # The camera is closed once the card is read.
            assert await tab.js(_visible("camera")) is False
            assert await tab.csp_violations() == []
            # Debian's headless Chromium has no BarcodeDetector: the vendored decoder read it.
            decoder = await tab.js(
                "'BarcodeDetector' in window ? 'native' : typeof ZXing === 'object' ? 'zxing' : ''"
            )
            assert decoder in ("native", "zxing")
            await _shot(tab, f"{database.kind}-till-scan-{kind}-found-by-{decoder}.png")
