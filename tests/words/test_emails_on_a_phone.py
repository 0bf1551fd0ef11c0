"""Every email, Russian and English, opened in headless Chromium at a phone's width
(390 px): the shared layout with its viewport tag fits without sideways scrolling, the
logo shows, the buttons are big enough for a thumb. Screenshots land in
test-artifacts/screenshots/emails/ for a person to look at."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from PIL import Image

from tests.conftest import ROOT
from tests.pages.cdp import chromium
from tests.words.test_plurals_everywhere import _email_contexts
from wallet.mail import service as mail

SHOTS = ROOT / "test-artifacts" / "screenshots" / "emails"
PHONE_WIDTH = 390


def _all_emails() -> list[tuple[str, str, str]]:
    """(file name, language, HTML) of every template, filled with 22 of everything."""
    found = []
    contexts = _email_contexts(22)
    contexts["signin_code"] = {"code": "123456"}
    contexts["erase_code"] = {"code": "654321"}
    for name, context in contexts.items():
        template = name.removesuffix("_two_dates").removesuffix("_debit")
        for lang in ("ru", "en"):
            _subject, html, _text = mail.render(template, lang=lang, context=context)
            found.append((f"{name}.{lang}", lang, mail.viewable(html)))
    return found


async def test_every_email_reads_on_a_phone_with_logo_and_no_sideways_scroll():
    SHOTS.mkdir(parents=True, exist_ok=True)
    emails = _all_emails()
    every = {p.name.split(".")[0] for p in mail.TEMPLATES.glob("*.ru.html")}
    assert {
        name.split(".")[0].removesuffix("_two_dates").removesuffix("_debit")
        for name, _l, _h in emails
    } == every
    with tempfile.TemporaryDirectory() as folder:
        async with chromium() as tab:
            for name, lang, html in emails:
                assert '<meta name="viewport" content="width=device-width' in html, name
                page = Path(folder) / f"{name}.html"
                page.write_text(html, encoding="utf-8")
                await tab.open(page.as_uri())
                assert await tab.js("document.documentElement.lang") == lang, name
                # Wider than the screen means a shopper scrolls sideways to read it.
                width = await tab.js("document.documentElement.scrollWidth")
                assert width <= PHONE_WIDTH, (name, width)
                logo = await tab.js(
                    "(() => { const i = document.querySelector('img');"
                    " return i && i.complete ? i.naturalWidth : 0 })()"
                )
                assert logo > 0, f"{name}: the logo did not load"
                # Every link styled as a button is at least 40 px tall (Apple asks 44 pt
                # for a tap target; 40 px with the table padding around it).
                heights = await tab.js(
                    "[...document.querySelectorAll('a[style*=\"padding\"]')]"
                    ".map(a => a.getBoundingClientRect().height)"
                )
                assert all(h >= 40 for h in heights), (name, heights)
                png = await tab.screenshot()
                (SHOTS / f"{name}.png").write_bytes(png)
                shot = Image.open(io.BytesIO(png)).convert("RGB")
                assert shot.width == PHONE_WIDTH
                # The header band is the program's colour (#1F4E3D), not a blank page.
                assert shot.getpixel((PHONE_WIDTH - 20, 20)) == (0x1F, 0x4E, 0x3D), name
