"""The welcome message's form in the console with bad input: what is wrong said in Russian
beside each field, what was typed kept, the message as it was still going out; on both
databases."""

from __future__ import annotations

import re

from tests.campaigns.test_console_forms import PARSER_WORDS, error_of
from tests.campaigns.test_console_sending import signed_in
from tests.support.shop import Shop, bearer, make_key


async def test_a_mistyped_welcome_message_is_refused_beside_its_fields_and_kept(client):
    shop = await Shop.open(client)
    await shop.enrol("Анна Смирнова", email="anna@example.ru")
    csrf = await signed_in(client)
    assert (
        await client.post("/console/automatic/welcome/on", data={"csrf": csrf})
    ).status_code == 303
    page = (await client.get("/console/automatic")).text
    welcome = page.split('id="auto-welcome"')[1].split('id="auto-birthday"')[0]
    link = re.search(r'href="(/console/campaigns/\d+)"', welcome)
    assert link
    key = await make_key("marketer")
    [before] = (
        await client.get("/api/v1/admin/campaigns?kind=welcome", headers=bearer(key))
    ).json()

    refused = await client.post(
        f"{link.group(1)}/save",
        data={
            "csrf": csrf,
            "name": "Приветствие",
            "template": "campaign_welcome",
            "subject": "{{ имя }}, добро пожаловать",
            "body": "Ваш баланс {{ balance",
            "email_rate": "-5",
        },
    )
    assert refused.status_code == 422
    shown = refused.text
    assert error_of(shown, "channels") == "Выберите хотя бы один канал"
    assert error_of(shown, "subject").startswith("Неизвестное поле «имя». Можно вставить:")
    assert error_of(shown, "body") == "Фигурные скобки не закрыты: поле пишется так: {{ name }}"
    assert error_of(shown, "email_rate") == "Целое число от 0 до 100\u00a0000"
    assert (
        'value="{{ имя }}, добро пожаловать"' in shown
        and ">Ваш баланс {{ balance</textarea>" in shown
    )
    assert 'value="-5"' in shown
    for words in PARSER_WORDS:
        assert words not in shown, words

    [after] = (await client.get("/api/v1/admin/campaigns?kind=welcome", headers=bearer(key))).json()
    assert after == before and after["status"] == "sending"
