"""The marketers' console: staff sign-in, CSRF on forms, segments, editor, previews."""

from __future__ import annotations

import re

from tests.support.shop import Shop, make_key


async def test_a_marketer_signs_in_builds_a_segment_and_previews_a_campaign(client):
    shop = await Shop.open(client)
    await shop.enrol(
        "Анна Смирнова",
        email="anna@example.ru",
        consents={
            "program": True,
            "personal_data": True,
            "terms_version": "v1",
            "marketing_email": True,
        },
    )
    assert (await client.get("/console")).status_code == 303
    refused = await client.post("/console/login", data={"key": shop.pos_key})
    assert refused.status_code == 403
    key = await make_key("marketer")
    signed = await client.post("/console/login", data={"key": key})
    assert signed.status_code == 303
    assert "httponly" in signed.headers["set-cookie"].lower()
    client.cookies.set("wallet_console", key, path="/console")

    home = await client.get("/console")
    assert home.status_code == 200
    form = await client.get("/console/segments/new")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    forged = await client.post(
        "/console/segments", data={"name": "С письмами", "g0_marketing_email": "yes"}
    )
    assert forged.status_code == 403
    made = await client.post(
        "/console/segments",
        data={"csrf": csrf, "name": "С письмами", "g0_marketing_email": "yes"},
    )
    assert made.status_code == 303
    home = await client.get("/console")
    assert "С письмами" in home.text and 'data-segment="1">1<' in home.text

    created = await client.post(
        "/console/campaigns",
        data={
            "csrf": csrf,
            "name": "Весна",
            "channel_email": "1",
            "channel_push": "1",
            "segment_id": "1",
            "subject": "{{ name }}, весна!",
            "body": "Скидки.",
            "push_header": "Весна",
            "push_text": "{{ name }}, скидки",
        },
    )
    assert created.status_code == 303, created.text
    page = await client.get(created.headers["location"])
    assert page.status_code == 200
    assert "сообщение получат <b>1</b>" in page.text
    assert "Анна Смирнова, скидки" in page.text  # the lock-screen preview
    assert "Анна Смирнова, весна!" in page.text  # the email's subject
