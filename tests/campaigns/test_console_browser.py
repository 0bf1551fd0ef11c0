"""A Russian marketer's campaign in a real headless Chromium at a laptop's size, against the
app served by uvicorn: sign in, write a campaign, see who it reaches, have a past time
refused, confirm a send with the count, watch it go, copy it, cancel the copy.

Screenshots of every screen land in test-artifacts/screenshots/console-*.png (not
committed) for a person to look at.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.campaigns.test_campaigns import enrol
from tests.conftest import ROOT
from tests.pages.cdp import Tab, chromium
from tests.support.shop import Shop
from wallet import clock, db
from wallet.auth import service as auth
from wallet.members import service as members
from wallet.members.tables import Member
from wallet.platform import worker

SHOTS = ROOT / "test-artifacts" / "screenshots"
MOSCOW = ZoneInfo("Europe/Moscow")


async def shot(tab: Tab, name: str) -> None:
    """The whole page at a laptop's width, after checking the CSP blocked nothing."""
    assert await tab.csp_violations() == [], name
    await laptop(tab)
    height = int(await tab.js("document.documentElement.scrollHeight"))
    await tab.send(
        "Emulation.setDeviceMetricsOverride",
        width=1280,
        height=max(800, min(height, 4000)),
        deviceScaleFactor=1,
        mobile=False,
    )
    png = await tab.screenshot()
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"console-{name}.png").write_bytes(png)


async def laptop(tab: Tab) -> None:
    """A marketer's laptop. (The date field's format is the browser's own locale: this
    Chromium ships only en-US, so it shows mm/dd/yyyy; a Russian one shows дд.мм.гггг.)"""
    await tab.send(
        "Emulation.setDeviceMetricsOverride",
        width=1280,
        height=800,
        deviceScaleFactor=1,
        mobile=False,
    )


async def test_a_marketer_has_a_past_time_refused_confirms_a_send_and_cancels_a_copy(
    client, server, smtp_sink
):
    shop = await Shop.open(client)
    for n in range(3):
        await enrol(shop, f"Покупатель {n}", f"p{n}@example.ru", consents={"marketing_email": True})
    await enrol(shop, "Борис Молчун", "boris@example.ru")
    gone = await enrol(shop, "Вера Ушедшая", "vera@example.ru", consents={"marketing_email": True})
    member = await Member.select(Member.id).where(Member.account == gone.account_id).first()
    async with db.write_transaction():
        await members.set_marketing_consent(
            member["id"], "email", False, now=clock.now(), source="unsubscribe"
        )
        key, _ = await auth.create_key(
            role="marketer", store_code=None, name="Мария", now=clock.now()
        )

    async with chromium() as tab:
        await laptop(tab)
        await tab.open(f"{server}/console/login")
        await shot(tab, "1-login")
        await tab.fill("#key", key)
        await tab.click_and_wait("form button[type=submit]")
        assert (await tab.url()).endswith("/console")

        await tab.open(f"{server}/console/campaigns/new")
        await tab.fill("input[name=name]", "Весенняя распродажа")
        await tab.fill("input[name=subject]", "{{ name }}, весна пришла!")
        await tab.fill("textarea[name=body]", "Скидки до 30% на всё до воскресенья.")
        await tab.click_and_wait("#editor button[type=submit]")
        campaign_url = await tab.url()
        assert "/console/campaigns/" in campaign_url
        reach = await tab.text("#reach")
        assert "сообщение получат 3" in reach
        assert "не давали согласия на рассылку: 1" in reach and "отписались: 1" in reach
        assert "по московскому времени (UTC+3)" in await tab.text("#schedule")
        await shot(tab, "2-draft-with-reach")

        # Yesterday at this time, typed as a marketer would: refused, said next to the field.
        past = (clock.now() - timedelta(days=1)).astimezone(MOSCOW)
        await tab.fill("#at", past.strftime("%Y-%m-%dT%H:%M"))
        await tab.click_and_wait("#schedule button[type=submit]")
        error = await tab.text("#at-error")
        assert error.startswith(f"Время отправки {past:%d.%m.%Y %H:%M} по московскому времени")
        assert await tab.js("document.querySelector('#at').value") == past.strftime(
            "%Y-%m-%dT%H:%M"
        )
        await shot(tab, "3-past-time-refused")
        await worker.run_until_idle()
        assert smtp_sink.messages == []

        # Send now: first the question with the count, nothing sent yet.
        await tab.click_and_wait("#send button[type=submit]")
        assert await tab.text("#confirm h1") == "Отправить 3 покупателям?"
        colours = await tab.js(
            "[getComputedStyle(document.querySelector('#confirm-send')).backgroundColor,"
            " getComputedStyle(document.querySelector('#back')).color]"
        )
        assert colours[0] == "rgb(10, 125, 50)"  # the one filled green button
        await shot(tab, "4-send-confirm")
        assert smtp_sink.messages == []
        await tab.click_and_wait("#confirm-send")
        await worker.run_until_idle()
        assert sorted(m["To"] for m in smtp_sink.messages) == [f"p{n}@example.ru" for n in range(3)]
        await tab.open(campaign_url)
        assert "отправлена" in await tab.text("h1")
        assert await tab.js("document.querySelectorAll('input[type=text], textarea').length") == 0
        await shot(tab, "5-sent")

        # Repeat it: a copy, scheduled for tomorrow, then cancelled.
        await tab.click_and_wait("#copy button")
        assert "Копия: Весенняя распродажа" in await tab.text("h1")
        tomorrow = (clock.now() + timedelta(days=1)).astimezone(MOSCOW)
        await tab.fill("#at", tomorrow.strftime("%Y-%m-%dT%H:%M"))
        await tab.click_and_wait("#schedule button[type=submit]")
        assert "запланирована" in await tab.text("h1")
        send_bg, cancel_bg = await tab.js(
            "[getComputedStyle(document.querySelector('#send button')).backgroundColor,"
            " getComputedStyle(document.querySelector('#cancel button')).backgroundColor]"
        )
        assert send_bg != cancel_bg  # send and cancel do not look alike
        await shot(tab, "6-copy-scheduled")
        await tab.click_and_wait("#cancel button")
        notice = await tab.text("#cancelled")
        assert "отменил(а): Мария (маркетолог)" in notice
        assert clock.now().astimezone(MOSCOW).strftime("%d.%m.%Y") in notice
        assert await tab.js("document.querySelectorAll('input[type=text], textarea').length") == 0
        await shot(tab, "7-cancelled")

        await tab.open(f"{server}/console")
        home = await tab.text("main")
        assert "отправлена" in home and "отменена" in home
        await shot(tab, "8-home")


async def _wait_for(tab: Tab, expression: str, seconds: float = 10) -> None:
    import asyncio

    for _ in range(int(seconds * 10)):
        if await tab.js(expression):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never true: {expression}")


async def test_a_marketer_builds_a_segment_with_the_form_and_watches_the_count(client, server):
    from tests.support.shop import line

    shop = await Shop.open(client)
    anna = await enrol(shop, "Анна Щедрая", "anna@example.ru", consents={"marketing_email": True})
    await shop.receipt(anna.card, "A1", [line(200_000)])
    await enrol(shop, "Борис Молчун", "boris@example.ru")
    async with db.write_transaction():
        key, _ = await auth.create_key(
            role="marketer", store_code=None, name="Мария", now=clock.now()
        )
    async with chromium() as tab:
        await laptop(tab)
        await tab.open(f"{server}/console/login")
        await tab.fill("#key", key)
        await tab.click_and_wait("form button[type=submit]")
        await tab.click_and_wait("#new-segment")
        # The script counts the empty form at once: everyone.
        await _wait_for(tab, "document.querySelector('#live-count').innerText.includes('2')")
        assert await tab.text("#live-count") == "Подходят: 2 покупателя"
        await shot(tab, "9-segment-new")

        await tab.fill("#name", "Покупали за месяц")
        await tab.js(
            "const s = document.querySelector('[name=g0_last_purchase]'); s.value = 'within';"
            "s.dispatchEvent(new Event('change', {bubbles: true}));"
        )
        await tab.fill("[name=g0_last_days]", "30")
        await tab.js(
            "document.querySelector('[name=g0_last_days]')"
            ".dispatchEvent(new Event('input', {bubbles: true}))"
        )
        await _wait_for(tab, "document.querySelector('#live-count').innerText.includes(' 1 ')")
        assert await tab.text("#live-count") == "Подходят: 1 покупатель"
        sample = await tab.text("#sample tbody")
        assert "Анна Щедрая" in sample and "Борис" not in sample
        await shot(tab, "10-segment-live-count")

        # A typo: said live beside the field, and again by the server if saved.
        await tab.fill("[name=g0_balance_min]", "много")
        await tab.js(
            "document.querySelector('[name=g0_balance_min]')"
            ".dispatchEvent(new Event('input', {bubbles: true}))"
        )
        await _wait_for(tab, "document.querySelector('[data-live-error]') !== null")
        assert "Введите целое число" in await tab.text("#group-0")
        await tab.click_and_wait("#segment-form button.primary")
        assert await tab.text("#g0_balance_min-error") == "Введите целое число"
        assert await tab.js("document.querySelector('[name=g0_balance_min]').value") == "много"
        await shot(tab, "11-segment-error-kept")

        await tab.fill("[name=g0_balance_min]", "")
        await tab.click_and_wait("#segment-form button.primary")
        assert "/console/segments/" in await tab.url()
        await _wait_for(tab, "document.querySelector('#live-count').innerText.includes(' 1 ')")
        assert await tab.js("document.querySelector('[name=g0_last_days]').value") == "30"
        await shot(tab, "12-segment-saved")


async def test_a_marketer_mistypes_a_campaign_and_switches_the_welcome_message_on(client, server):
    shop = await Shop.open(client)
    await enrol(shop, "Анна Смирнова", "anna@example.ru")
    async with db.write_transaction():
        key, _ = await auth.create_key(
            role="marketer", store_code=None, name="Мария", now=clock.now()
        )
    async with chromium() as tab:
        await laptop(tab)
        await tab.open(f"{server}/console/login")
        await tab.fill("#key", key)
        await tab.click_and_wait("form button[type=submit]")
        await tab.open(f"{server}/console/campaigns/new")
        await tab.fill("input[name=name]", "Весна")
        await tab.fill("input[name=subject]", "{{ имя }}, весна пришла!")
        await tab.fill("input[name=email_rate]", "быстро")
        await tab.click_and_wait("#editor button[type=submit]")
        assert (await tab.text("#subject-error")).startswith("Неизвестное поле «имя»")
        assert await tab.text("#email_rate-error") == "Целое число от 0 до 100\u00a0000"
        assert await tab.js("document.querySelector('[name=subject]').value") == (
            "{{ имя }}, весна пришла!"
        )
        await shot(tab, "13-campaign-form-errors")

        await tab.open(f"{server}/console/automatic")
        await shot(tab, "14-automatic-off")
        await tab.click_and_wait("#auto-welcome button")
        assert "включено" in await tab.text("#auto-welcome h2")
        await tab.click_and_wait("#auto-welcome a")
        assert "Анна Смирнова" in await tab.text("main")
        await shot(tab, "15-welcome-edit-preview")
