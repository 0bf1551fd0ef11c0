"""The shopper's pages tell the truth about numbers: when a purchase happened, receipts
that earned nothing and why, units on the cashback page, a page for a mistyped address."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tests.pages.conftest import join
from tests.support.shop import Shop, line
from wallet import clock, settings, words


async def _number(client) -> str:
    page = (await client.get("/card")).text
    return re.search(r'id="card-number">([\d ]+)<', page).group(1).replace(" ", "")


async def test_history_shows_when_the_purchase_happened_and_receipts_that_earned_nothing(
    client,
):
    shop = await Shop.open(client)
    await join(client, name="Анна", email="anna@example.ru")
    number = await _number(client)
    bought = clock.now() - timedelta(hours=5, minutes=7)
    await shop.receipt(number, "R1", [line(100_000)], at=bought)
    await shop.receipt(number, "WINE", [line(150_000, category="alcohol")])
    page = (await client.get("/history")).text
    local = bought.astimezone(settings.get().tz)
    # The till's time of the sale, not the moment it was posted (hours later).
    assert f"{words.date(local.date())}, {local:%H:%M}" in page
    assert "Чек WINE" in page and "Покупка без баллов" in page
    assert "Баллы не начисляются на алкоголь" in page
    assert page.index("Чек WINE") < page.index("Чек R1")


async def test_the_api_history_carries_the_receipt_time_and_the_receipts_without_points(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова")
    bought = clock.now() - timedelta(hours=3)
    await shop.receipt(anna.card, "R1", [line(100_000)], at=bought)
    await shop.receipt(anna.card, "SMOKE", [line(30_000, category="tobacco")])
    await shop.receipt(anna.card, "GUM", [line(50)])  # 0.50 ₽ earns 0 points
    reply = await client.get("/api/v1/me/history", headers=anna.headers)
    items = {item["receipt_id"]: item for item in reply.json()["items"] if item["receipt_id"]}
    assert (
        items["SMOKE"]["kind"] == "no_points" and items["SMOKE"]["reason"] == "categories:tobacco"
    )
    assert items["GUM"]["reason"] == "too_small" and items["GUM"]["points"] == 0
    assert items["R1"]["kind"] == "earn"
    assert abs(datetime.fromisoformat(items["R1"]["receipt_at"]) - bought) < timedelta(seconds=1)


async def test_a_mistyped_address_shows_a_page_and_the_api_keeps_json(client):
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "ru"}
    page = await client.get("/crad", headers=browser)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Страница не найдена" in page.text and 'href="/"' in page.text
    english = await client.get("/cahsback", headers={**browser, "Accept-Language": "en"})
    assert "Page not found" in english.text
    api = await client.get("/api/v1/nope", headers=browser)
    assert api.status_code == 404 and api.json()["code"] == "not_found"
    plain = await client.get("/crad")
    assert plain.status_code == 404 and plain.json()["code"] == "not_found"


async def test_my_data_page_dates_the_messages_sent_as_people_write_them(client, smtp_sink):
    from tests.campaigns.test_campaigns import campaign
    from tests.pages.conftest import post_form
    from tests.support.shop import bearer, make_key
    from wallet.platform import worker

    await Shop.open(client)
    key = await make_key("marketer")
    await join(client, name="Анна", email="anna.data@example.ru")
    await post_form(client, "/card", "/card/consents", {"marketing_email": "1"})
    sent = await campaign(client, key, subject="Письмо", body="Текст")
    await client.post(f"/api/v1/admin/campaigns/{sent['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    page = (await client.get("/card/my-data")).text
    row = re.search(r"Письмо · Весенняя акция</span><span class=\"muted\">([^<]+)<", page)
    assert row, page
    # '30 ноября 2026, 18:00' on both databases, never the stored ISO text.
    assert re.fullmatch(r"\d{1,2} [а-я]+ \d{4}, \d\d:\d\d", row.group(1)), row.group(1)
