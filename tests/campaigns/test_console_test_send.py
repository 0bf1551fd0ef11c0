"""The console's test send: a missing or mistyped address or card is said in Russian
beside its field with what was typed kept (it was the API's English message in the page's
address, the fields emptied), and a test that went says where; on both databases."""

from __future__ import annotations

import re

from tests.campaigns.test_console_forms import PARSER_WORDS, error_of
from tests.campaigns.test_console_sending import new_campaign, signed_in
from tests.support.shop import Shop


async def test_a_wrong_test_address_or_card_is_said_beside_it_and_a_sent_test_says_where(
    client, smtp_sink
):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова", email="anna@example.ru")
    boris = await client.post(
        "/api/v1/cards",
        json={
            "name": "Борис Без Почты",
            "phone": "+79160000042",
            "consents": {"program": True, "personal_data": True, "terms_version": "2026-01"},
        },
    )
    assert boris.status_code == 201, boris.text
    boris_card = boris.json()["card_number"]
    csrf = await signed_in(client)
    page = await new_campaign(client, csrf)

    async def refused(**fields: str) -> str:
        reply = await client.post(f"{page}/test", data={"csrf": csrf, **fields})
        assert reply.status_code == 422, reply.text
        for words in (*PARSER_WORDS, "give an email", "no card"):
            assert words not in reply.text, words
        return reply.text

    shown = await refused()
    assert error_of(shown, "email") == "Укажите адрес почты или номер карты, куда отправить тест"
    shown = await refused(email="anna@example", card_number="1234")
    assert error_of(shown, "email") == "Адрес почты пишется так: name@example.ru"
    assert error_of(shown, "card_number") == "Номер карты — 16 цифр"
    assert 'name="email" value="anna@example"' in shown
    assert 'name="card_number" value="1234"' in shown
    shown = await refused(card_number="0000 0000 0000 0000")
    assert error_of(shown, "card_number") == "Карты с таким номером нет"
    shown = await refused(card_number=boris_card)
    assert error_of(shown, "card_number").startswith("Этому покупателю нечего отправить")
    assert smtp_sink.messages == []

    went = await client.post(f"{page}/test", data={"csrf": csrf, "card_number": anna.card})
    assert went.status_code == 303, went.text
    notice = (await client.get(went.headers["location"])).text
    found = re.search(r'<p class="notice" id="tested"[^>]*>([^<]+)</p>', notice)
    assert found and found.group(1) == (
        "Тест отправлен: письмо на anna@example.ru. В рассылке он не считается."
    )
    [message] = smtp_sink.messages
    assert message["To"] == "anna@example.ru" and message["Subject"].startswith("[ТЕСТ]")
