"""The card page shows the till barcode the program chose (WALLET_CARD_BARCODE): a shopper
joins in a real headless Chromium at a phone's size, and zxing-cpp reads the card number
off the screenshot of /card in the chosen format. (The QR default is read by zbar in
test_browser.py.)"""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from tests.pages.cdp import chromium
from tests.pages.test_browser import _shot
from tests.support.shop import make_store

FORMATS = {"CODE_128": zxingcpp.BarcodeFormat.Code128, "PDF417": zxingcpp.BarcodeFormat.PDF417}


@pytest.fixture(params=sorted(FORMATS))
def card_barcode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The program's barcode, set before the server starts (requested before it)."""
    monkeypatch.setenv("WALLET_CARD_BARCODE", request.param)
    return str(request.param)


async def test_the_card_page_shows_the_chosen_barcode_and_a_scanner_reads_it(
    database, card_barcode, server
):
    await make_store("MSK-001")
    async with chromium() as tab:
        await tab.open(f"{server}/join?store=MSK-001")
        await tab.fill("#name", "Анна Смирнова")
        await tab.fill("#email", "anna@example.ru")
        await tab.tick("#consent_program")
        await tab.tick("#consent_data")
        await tab.click_and_wait("#join")
        assert (await tab.url()).endswith("/card")
        number = (await tab.text("#card-number")).replace(" ", "")
        assert await tab.js("document.querySelector('svg.barcode').dataset.format") == card_barcode
        shot = await _shot(tab, f"{database.kind}-card-{card_barcode}.png")
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
        assert [(r.format, r.text) for r in found] == [(FORMATS[card_barcode], number)]
