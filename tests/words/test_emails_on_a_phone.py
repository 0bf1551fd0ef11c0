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


async def _check_on_phone(tab, folder: Path, name: str, lang: str, html: str) -> None:
    """Open one email at phone width: its language, no sideways scroll, the logo loaded,
    buttons big enough for a thumb, the program's colour in the header; the screenshot is
    kept."""
    assert '<meta name="viewport" content="width=device-width' in html, name
    page = folder / f"{name}.html"
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
    # Every link styled as a button is at least 40 px tall (Apple asks 44 pt for a tap
    # target; 40 px with the table padding around it).
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
                await _check_on_phone(tab, Path(folder), name, lang, html)


async def test_a_sent_campaign_with_links_and_a_button_reads_on_a_phone(
    database, client, smtp_sink
):
    """The campaign email as the shopper got it, with a long link in the text, a link
    with its own words and the card button: the links wrap instead of widening the
    email, the buttons are a thumb's size."""
    from tests.campaigns.test_campaigns import campaign, enrol
    from tests.support.shop import Shop, bearer, make_key
    from wallet.platform import worker

    shop = await Shop.open(client)
    key = await make_key("marketer")
    await enrol(shop, "Ольга", "olga.phone@example.ru", consents={"marketing_email": True})
    body = (
        "Всё о распродаже: https://shop.example/sale/november/2026/every-category-and-store"
        "?utm_source=email&utm_medium=loyalty&utm_campaign=black-friday-week\n\n"
        "[Открыть каталог](https://shop.example/catalog)\n\n[Моя карта]"
    )
    created = await campaign(client, key, subject="Распродажа", body=body)
    sent = await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    assert sent.status_code == 200, sent.text
    await worker.run_until_idle()
    [message] = smtp_sink.to("olga.phone@example.ru")
    html = mail.viewable(message.get_body(("html",)).get_content())
    SHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        async with chromium() as tab:
            name = f"campaign_links.{database.kind}.ru"
            await _check_on_phone(tab, Path(folder), name, "ru", html)
            buttons = await tab.js(
                "[...document.querySelectorAll('a[style*=\"padding\"]')].map(a => a.textContent)"
            )
            assert {"Открыть каталог", "Моя карта"} <= set(buttons), buttons
