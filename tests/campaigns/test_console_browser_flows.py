"""More of the console in a real headless Chromium (as test_console_browser.py): a
segment an offer uses refused deletion with the offer named and exported as CSV, the test
send mistyped and then sent, every template seen before it is picked, the birthday
message switched on and previewed, a push campaign that reached nobody, and a report's
form refused beside its field. Screenshots in test-artifacts/screenshots/console-*.png."""

from __future__ import annotations

import asyncio
import json

from tests.campaigns.test_campaigns import campaign, enrol, figures
from tests.campaigns.test_console_browser import laptop, shot
from tests.offers.support import make_offer
from tests.pages.cdp import Tab, chromium
from tests.support.shop import Shop, bearer, line, make_key
from wallet import clock, db
from wallet.auth import service as auth
from wallet.platform import worker


async def signed_in(tab: Tab, server: str) -> None:
    async with db.write_transaction():
        key, _ = await auth.create_key(
            role="marketer", store_code=None, name="Мария", now=clock.now()
        )
    await laptop(tab)
    await tab.open(f"{server}/console/login")
    await tab.fill("#key", key)
    await tab.click_and_wait("form button[type=submit]")
    assert (await tab.url()).endswith("/console")


async def fetched(tab: Tab, path: str) -> str:
    """What the signed-in browser downloads from ``path`` (its cookie, its origin)."""
    result = await tab.send(
        "Runtime.evaluate",
        expression=f"fetch({json.dumps(path)}).then(r => r.text())",
        awaitPromise=True,
        returnByValue=True,
    )
    return str(result["result"]["value"])


async def test_a_segment_in_use_is_kept_naming_the_offer_and_exports_as_csv(client, server):
    shop = await Shop.open(client)
    anna = await enrol(shop, "Анна Щедрая", "anna@example.ru")
    await shop.receipt(anna.card, "A1", [line(200_000)])
    key = await make_key("marketer")
    made = await client.post(
        "/api/v1/admin/segments",
        json={"name": "Покупали", "filter": {"balance_min": 1}},
        headers=bearer(key),
    )
    assert made.status_code == 201, made.text
    segment_id = made.json()["id"]
    await make_offer(shop, name="Кешбэк для своих", eligible_segment_ids=[segment_id])
    async with chromium() as tab:
        await signed_in(tab, server)
        await tab.open(f"{server}/console/segments/{segment_id}")
        await tab.click_and_wait("#delete button")
        refused = await tab.text("#form-error")
        assert "Сегмент не удалён" in refused and "«Кешбэк для своих»" in refused
        await shot(tab, "20-segment-delete-refused")
        csv = await fetched(tab, await tab.js("document.querySelector('#export').href"))
        assert "Анна Щедрая" in csv and anna.card in csv


async def test_test_send_templates_birthday_and_a_report_form_in_chromium(
    client, server, smtp_sink
):
    shop = await Shop.open(client)
    anna = await enrol(shop, "Анна Смирнова", "anna@example.ru", consents={"marketing_email": True})
    async with chromium() as tab:
        await signed_in(tab, server)
        await tab.open(f"{server}/console/campaigns/new")
        await tab.js("document.querySelector('#template-samples').open = true")
        assert await tab.js("document.querySelectorAll('#template-samples iframe').length") == 3
        await asyncio.sleep(1)  # the frames of a just opened <details> load and paint
        await shot(tab, "21-template-samples")
        await tab.fill("input[name=name]", "Осень")
        await tab.fill("input[name=subject]", "{{ name }}, осень!")
        await tab.fill("textarea[name=body]", "Тёплые пледы со скидкой.")
        await tab.click_and_wait("#editor button[type=submit]")
        assert "/console/campaigns/" in await tab.url()

        await tab.fill("#test input[name=email]", "anna@example")
        await tab.click_and_wait("#test button[type=submit]")
        assert await tab.text("#email-error") == "Адрес почты пишется так: name@example.ru"
        assert await tab.js("document.querySelector('#test [name=email]').value") == "anna@example"
        await shot(tab, "22-test-send-refused")
        await tab.fill("#test input[name=email]", "")
        await tab.fill("#test input[name=card_number]", anna.card)
        await tab.click_and_wait("#test button[type=submit]")
        assert "письмо на anna@example.ru" in await tab.text("#tested")
        assert [m["To"] for m in smtp_sink.messages] == ["anna@example.ru"]
        await shot(tab, "23-test-sent")

        await tab.open(f"{server}/console/automatic")
        await tab.click_and_wait("#auto-birthday button")
        assert "включено" in await tab.text("#auto-birthday h2")
        await tab.click_and_wait("#auto-birthday a")
        await tab.fill("input[name=subject]", "{{ name }}, с днём рождения от нас!")
        await tab.click_and_wait("#editor button[type=submit]")
        frame = await tab.js("document.querySelector('iframe[title=письмо]').srcdoc")
        assert "Анна Смирнова, с днём рождения от нас!" in await tab.text("main")
        assert "днём рождения" in frame
        await shot(tab, "24-birthday-edited-preview")

        await tab.open(f"{server}/console/reports/movements?from=2020-01-01&to=2026-01-10")
        assert await tab.text("#to-error") == "Период длиннее 366 дней: не больше года"
        assert await tab.js("document.querySelector('[name=from]').value") == "2020-01-01"
        await shot(tab, "25-report-period-refused")


async def test_a_push_campaign_that_reached_nobody_says_so_in_chromium(client, server, wallets):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    await enrol(shop, "Анна Без Карты", "anna@example.ru", consents={"marketing_push": True})
    created = await campaign(client, key, name="Пуш", channels=["push"], push_text="Скидки")
    await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    assert (await figures(client, key, created["id"]))["status"] == "undelivered"
    async with chromium() as tab:
        await signed_in(tab, server)
        await tab.open(f"{server}/console/campaigns/{created['id']}")
        assert "никому не доставлена" in await tab.text("h1")
        reasons = await tab.text("#figures .reasons")
        assert reasons == "Не получили и почему: нет карты в Apple или Google Wallet: 1"
        # The figures fit a laptop's width: the reasons were a ninth column out of view.
        assert await tab.js(
            "document.querySelector('#figures').scrollWidth"
            " <= document.querySelector('#figures').clientWidth"
        )
        assert "отправлена" not in (await tab.text("h1")).replace("не доставлена", "")
        await shot(tab, "26-push-reached-nobody")
        await tab.open(f"{server}/console")
        assert "никому не доставлена" in await tab.text("main")
