"""The reports' forms in the console with bad input: each refusal in Russian beside the
field it is about, what was typed still in the field, never the API's English message; on
both databases."""

from __future__ import annotations

import re

from tests.campaigns.test_campaigns import campaign, enrol
from tests.offers.support import make_offer, this_month
from tests.support.shop import Shop, make_key
from wallet.offers import service as offers

ENGLISH = ("the period", "is in the future", "is outside", "no store", "window is", "not been sent")


def beside(page: str, field: str) -> str:
    """The refusal shown right after the field's input, and the input says it is invalid."""
    found = re.search(
        rf'name="{field}" value="([^"]*)" aria-invalid="true" aria-describedby="{field}-error">'
        rf'</label><p class="field-error" id="{field}-error" role="alert">([^<]+)</p>',
        page,
    )
    assert found, (field, page)
    return found.group(2)


def typed(page: str, field: str) -> str:
    found = re.search(rf'name="{field}" value="([^"]*)"', page)
    assert found, (field, page)
    return found.group(1)


def no_english(page: str) -> None:
    for words in ENGLISH:
        assert words not in page, words


async def test_each_report_form_says_what_is_wrong_beside_the_field_and_keeps_it(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    client.cookies.set("wallet_console", key, path="/console")

    async def refused(url: str, **params: str) -> str:
        reply = await client.get(url, params=params)
        assert reply.status_code == 422, (url, params, reply.text)
        no_english(reply.text)
        return reply.text

    liability = "/console/reports/liability"
    page = await refused(liability, as_of="вчера")
    assert beside(page, "as_of") == "Укажите дату и время"
    assert typed(page, "as_of") == "вчера"
    page = await refused(liability, as_of="2999-01-01T10:00")
    assert beside(page, "as_of").startswith("Дата вне 2000–2099 годов")
    page = await refused(liability, as_of="2099-01-01T10:00")
    assert beside(page, "as_of") == "Это время ещё не наступило: обязательства известны на сейчас"
    assert typed(page, "as_of") == "2099-01-01T10:00"

    movements = "/console/reports/movements"
    page = await refused(movements, **{"from": "2020-01-01", "to": "2026-01-10"})
    assert beside(page, "to") == "Период длиннее 366 дней: не больше года"
    assert typed(page, "from") == "2020-01-01" and typed(page, "to") == "2026-01-10"
    page = await refused(movements, **{"from": "2026-02-01", "to": "2026-01-10"})
    assert beside(page, "to") == "Конец периода раньше начала"
    page = await refused(movements, **{"from": "первое", "to": "9999-12-31"})
    assert beside(page, "from") == "Укажите день"
    assert beside(page, "to") == "Дата вне 2000–2099 годов"
    page = await refused(movements, **{"from": "2026-01-01", "to": "2026-01-10", "store": "НЕТ"})
    assert beside(page, "store") == "Магазина с кодом «НЕТ» нет"
    assert typed(page, "store") == "НЕТ"

    month = this_month()
    health = "/console/reports/health"
    page = await refused(health, **{"from": "май"})
    assert beside(page, "from") == "Укажите месяц: год и месяц, например 2026-11"
    assert typed(page, "from") == "май"
    page = await refused(health, **{"from": offers.shift_month(month, -30)})
    assert beside(page, "to") == "Период длиннее 24 месяцев"
    page = await refused(health, to=offers.shift_month(month, 1))
    assert beside(page, "to") == "Этот месяц ещё не наступил"

    offer = await make_offer(shop)
    offer_page = f"/console/reports/offers/{offer['id']}"
    page = await refused(offer_page, to="2026-13")
    assert beside(page, "to") == "Укажите месяц: год и месяц, например 2026-11"
    page = await refused(offer_page, **{"from": month, "to": offers.shift_month(month, -1)})
    assert beside(page, "to") == "Конец периода раньше начала"
    missing = await client.get(f"/console/reports/offers/{offer['id'] + 99}")
    assert missing.status_code == 404 and "Такого предложения кешбэка нет" in missing.text

    await enrol(shop, "Анна", "anna@example.ru", consents={"marketing_email": True})
    draft = await campaign(client, key, name="Весна")
    outcome = f"/console/reports/campaigns/{draft['id']}"
    page = await refused(outcome, window_days="две")
    assert beside(page, "window_days") == "Целое число дней от 1 до 90"
    assert typed(page, "window_days") == "две"
    page = await refused(outcome, window_days="91")
    assert beside(page, "window_days") == "Целое число дней от 1 до 90"
    page = await refused(outcome, window_days="7")
    assert "Кампания ещё не отправлена: сравнивать не с чем" in page
    missing = await client.get(f"/console/reports/campaigns/{draft['id'] + 99}")
    assert missing.status_code == 404 and "Такой кампании нет" in missing.text
