"""Sending safely in the console: a past time refused next to its field (typed value kept),
a send confirmed with the reachable count, who cancelled shown with nothing editable,
copying, statuses in Russian; on both databases."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.campaigns.test_campaigns import enrol
from tests.support.shop import Shop
from wallet import clock, db
from wallet.auth import service as auth
from wallet.platform import worker

EMAIL = {"marketing_email": True}
MOSCOW = ZoneInfo("Europe/Moscow")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def signed_in(client: httpx.AsyncClient, name: str = "Мария") -> str:
    async with db.write_transaction():
        key, _ = await auth.create_key(role="marketer", store_code=None, name=name, now=clock.now())
    client.cookies.set("wallet_console", key, path="/console")
    return _csrf((await client.get("/console/campaigns/new")).text)


async def new_campaign(client: httpx.AsyncClient, csrf: str, **fields: Any) -> str:
    made = await client.post(
        "/console/campaigns",
        data={
            "csrf": csrf,
            "name": "Весна",
            "channel_email": "1",
            "subject": "{{ name }}, весна!",
            "body": "Скидки.",
            **fields,
        },
    )
    assert made.status_code == 303, made.text
    return str(made.headers["location"])


async def test_a_past_time_is_refused_next_to_the_field_keeping_what_was_typed(client, smtp_sink):
    shop = await Shop.open(client)
    await enrol(shop, "Анна", "a@example.ru", consents=EMAIL)
    csrf = await signed_in(client)
    page = await new_campaign(client, csrf)
    shown = await client.get(page)
    assert "по московскому времени (UTC+3)" in shown.text  # beside the field

    typed = (clock.now() - timedelta(days=1)).astimezone(MOSCOW).strftime("%Y-%m-%dT%H:%M")
    refused = await client.post(f"{page}/schedule", data={"csrf": csrf, "at": typed})
    assert refused.status_code == 422
    error = re.search(r'<p class="field-error" id="at-error"[^>]*>([^<]+)</p>', refused.text)
    assert error, refused.text
    day = typed[8:10] + "." + typed[5:7] + "." + typed[:4] + " " + typed[11:]
    assert error.group(1).startswith(f"Время отправки {day} по московскому времени")
    assert "уже прошло" in error.group(1)
    assert f'value="{typed}"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "черновик" in refused.text
    await worker.run_until_idle()
    assert smtp_sink.messages == []

    nothing = await client.post(f"{page}/schedule", data={"csrf": csrf, "at": "завтра"})
    assert nothing.status_code == 422
    assert "Укажите дату и время отправки" in nothing.text

    later = (clock.now() + timedelta(days=1)).astimezone(MOSCOW).strftime("%Y-%m-%dT%H:%M")
    planned = await client.post(f"{page}/schedule", data={"csrf": csrf, "at": later})
    assert planned.status_code == 303
    assert "запланирована" in (await client.get(page)).text


async def test_sending_now_asks_first_with_the_count_of_shoppers_it_reaches(client, smtp_sink):
    shop = await Shop.open(client)
    for n in range(3):
        await enrol(shop, f"Покупатель {n}", f"p{n}@example.ru", consents=EMAIL)
    await enrol(shop, "Молчун", "quiet@example.ru")
    csrf = await signed_in(client)
    page = await new_campaign(client, csrf)

    asked = await client.post(f"{page}/send", data={"csrf": csrf})
    assert asked.status_code == 200
    assert "<h1>Отправить 3 покупателям?</h1>" in asked.text
    assert "не давали согласия на рассылку: 1" in asked.text
    assert 'class="primary" id="confirm-send"' in asked.text
    await worker.run_until_idle()
    assert smtp_sink.messages == []  # asking sent nothing
    assert "черновик" in (await client.get(page)).text

    sent = await client.post(f"{page}/send", data={"csrf": csrf, "confirmed": "1"})
    assert sent.status_code == 303
    await worker.run_until_idle()
    assert len(smtp_sink.messages) == 3
    done = (await client.get(page)).text
    assert '<span class="status sent">отправлена</span>' in done
    assert 'name="subject"' not in done  # nothing to edit any more


async def test_a_cancelled_campaign_says_when_and_by_whom_and_can_be_copied(client):
    shop = await Shop.open(client)
    await enrol(shop, "Анна", "a@example.ru", consents=EMAIL)
    csrf = await signed_in(client, "Мария")
    page = await new_campaign(client, csrf, name="Осень")
    later = (clock.now() + timedelta(days=1)).astimezone(MOSCOW).strftime("%Y-%m-%dT%H:%M")
    await client.post(f"{page}/schedule", data={"csrf": csrf, "at": later})
    assert (await client.post(f"{page}/cancel", data={"csrf": csrf})).status_code == 303

    shown = (await client.get(page)).text
    assert "отменена" in shown
    notice = re.search(r'<p class="notice" id="cancelled">([^<]+)</p>', shown)
    assert notice, shown
    assert "отменил(а): Мария (маркетолог)" in notice.group(1)
    assert clock.now().astimezone(MOSCOW).strftime("%d.%m.%Y") in notice.group(1)
    # No field to type into, no save, no send: only the copy button.
    assert '<input type="text"' not in shown and "<textarea" not in shown
    assert "/send" not in shown and "/save" not in shown

    copied = await client.post(f"{page}/copy", data={"csrf": csrf})
    assert copied.status_code == 303
    copy = (await client.get(copied.headers["location"])).text
    assert "Копия: Осень" in copy and "черновик" in copy
    assert 'value="{{ name }}, весна!"' in copy  # the texts came along, editable

    home = (await client.get("/console")).text
    assert "отменена" in home and "черновик" in home
