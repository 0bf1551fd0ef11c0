"""The campaign form in the console: what was typed stays, what is wrong is said in Russian
beside the field, never as a parser's or template engine's message; on both databases."""

from __future__ import annotations

import re

from tests.campaigns.test_console_sending import new_campaign, signed_in
from tests.support.shop import Shop, bearer, make_key

PARSER_WORDS = ("Object contains", "Expected", "is undefined", "regex", "Traceback", "msgspec")


def error_of(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error"[^>]*>([^<]+)</p>', page)
    assert found, (name, page)
    return found.group(1)


async def test_a_failing_campaign_form_keeps_the_text_and_says_what_is_wrong(client):
    await Shop.open(client)
    csrf = await signed_in(client)
    refused = await client.post(
        "/console/campaigns",
        data={
            "csrf": csrf,
            "name": "Весна",
            "channel_push": "1",
            "subject": "{{ имя }}, весна!",
            "body": "Скидки {{ balance",
            "email_rate": "быстро",
            "template": "campaign_../../etc",
            "segment_id": "12345",
        },
    )
    assert refused.status_code == 422
    page = refused.text
    assert error_of(page, "subject").startswith("Неизвестное поле «имя». Можно вставить:")
    assert error_of(page, "body") == "Фигурные скобки не закрыты: поле пишется так: {{ name }}"
    assert error_of(page, "push_text") == "Для сообщения на карте нужен текст"
    assert error_of(page, "email_rate") == "Целое число от 0 до 100\u00a0000"
    assert error_of(page, "template") == "Выберите шаблон из списка"
    assert error_of(page, "segment_id") == "Выберите сегмент из списка"
    assert 'value="{{ имя }}, весна!"' in page and ">Скидки {{ balance</textarea>" in page
    assert 'value="быстро"' in page and 'name="channel_push" value="1" checked' in page
    for words in PARSER_WORDS:
        assert words not in page, words
    key = await make_key("marketer")
    listed = await client.get("/api/v1/admin/campaigns", headers=bearer(key))
    assert listed.json() == []

    nothing = await client.post("/console/campaigns", data={"csrf": csrf, "name": ""})
    assert nothing.status_code == 422
    assert error_of(nothing.text, "name") == "Назовите кампанию"
    assert error_of(nothing.text, "channels") == "Выберите хотя бы один канал"


async def test_saving_a_campaign_with_a_mistake_keeps_it_and_the_template_is_a_list(client):
    await Shop.open(client)
    csrf = await signed_in(client)
    page = await new_campaign(client, csrf)
    shown = (await client.get(page)).text
    assert '<option value="campaign_default" selected>Обычное письмо' in shown
    assert "Поздравление с днём рождения" in shown
    refused = await client.post(
        f"{page}/save",
        data={"csrf": csrf, "name": "Весна 2", "channel_email": "1", "subject": "{{ nme }}"},
    )
    assert refused.status_code == 422
    assert error_of(refused.text, "subject").startswith("Неизвестное поле «nme»")
    assert 'value="Весна 2"' in refused.text
    assert "Весна 2" not in (await client.get(page)).text.split("<h1>")[1].split("</h1>")[0]


async def test_welcome_and_birthday_messages_are_switched_on_edited_and_previewed(client):
    shop = await Shop.open(client)
    await shop.enrol("Анна Смирнова", email="anna@example.ru")
    csrf = await signed_in(client)
    page = (await client.get("/console/automatic")).text
    assert page.count("выключено") == 2 and "Приветствие новому участнику" in page

    on = await client.post("/console/automatic/welcome/on", data={"csrf": csrf})
    assert on.status_code == 303
    page = (await client.get("/console/automatic")).text
    welcome = page.split('id="auto-welcome"')[1].split('id="auto-birthday"')[0]
    assert "включено" in welcome
    link = re.search(r'href="(/console/campaigns/\d+)"', welcome)
    assert link

    editor = (await client.get(link.group(1))).text
    assert "Автоматическое сообщение" in editor and 'name="segment_id"' not in editor
    assert "/send" not in editor and "/copy" not in editor
    saved = await client.post(
        f"{link.group(1)}/save",
        data={
            "csrf": csrf,
            "name": "Приветствие",
            "channel_email": "1",
            "template": "campaign_welcome",
            "subject": "{{ name }}, рады знакомству",
            "body": "Карта уже работает.",
        },
    )
    assert saved.status_code == 303
    preview = (await client.get(link.group(1))).text
    assert "Анна Смирнова, рады знакомству" in preview  # the email preview, a real shopper

    off = await client.post("/console/automatic/welcome/off", data={"csrf": csrf})
    assert off.status_code == 303
    page = (await client.get("/console/automatic")).text
    assert "включено" not in page.split('id="auto-welcome"')[1].split('id="auto-birthday"')[0]
    key = await make_key("marketer")
    listed = await client.get("/api/v1/admin/campaigns?kind=welcome", headers=bearer(key))
    [welcome_campaign] = listed.json()
    assert welcome_campaign["status"] == "cancelled"
    assert welcome_campaign["subject"] == "{{ name }}, рады знакомству"
