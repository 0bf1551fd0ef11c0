"""The shopper's pages over HTTP, on SQLite and PostgreSQL: join, card, sign-in, CSRF."""

from __future__ import annotations

import re

import pytest

from tests.pages.conftest import code_in, csrf_of, join, post_form
from tests.support.shop import Shop, line
from wallet import db


async def test_join_from_a_store_poster_issues_a_card_and_signs_in(client):
    shop = await Shop.open(client, code="MSK-001")
    reply = await join(client, name="Анна", email="anna@example.ru", store="MSK-001")
    assert reply.status_code == 303 and reply.headers["location"] == "/card"
    cookie = reply.headers.get_list("set-cookie")
    session = next(c for c in cookie if c.startswith("wsession="))
    assert "HttpOnly" in session and "SameSite=lax" in session.replace("Lax", "lax")
    card = await client.get("/card")
    assert card.status_code == 200
    number = re.search(r'id="card-number">([\d ]+)<', card.text).group(1)
    assert len(number) == 19 and number.count(" ") == 3
    assert "<svg" in card.text and "Баллы" in card.text
    rows = await db.raw("SELECT join_store_id FROM member")
    stores = await db.raw("SELECT id FROM store WHERE code = {}", "MSK-001")
    assert rows[0]["join_store_id"] == stores[0]["id"]
    assert shop is not None


async def test_join_page_speaks_english_when_the_browser_prefers_it(client):
    reply = await client.get("/join", headers={"Accept-Language": "en-GB,en;q=0.9,ru;q=0.5"})
    assert "Get your card" in reply.text and 'lang="en"' in reply.text
    reply = await client.get("/join", headers={"Accept-Language": "de-DE,de"})
    assert "Получить карту" in reply.text


async def test_join_without_consent_shows_the_form_again(client):
    reply = await post_form(
        client,
        "/join",
        "/join",
        {"name": "Иван", "email": "ivan@example.ru", "consent_program": "1"},
    )
    assert reply.status_code == 422 and "согласие" in reply.text
    assert (await client.get("/card")).headers["location"] == "/signin"


async def test_a_form_without_its_csrf_token_is_refused(client):
    await client.get("/join")
    reply = await client.post(
        "/join",
        data={
            "name": "Иван",
            "email": "ivan@example.ru",
            "consent_program": "1",
            "consent_data": "1",
        },
    )
    assert reply.status_code == 403
    forged = await client.post(
        "/join",
        data={
            "csrf": "x" * 43,
            "name": "Иван",
            "email": "i@example.ru",
            "consent_program": "1",
            "consent_data": "1",
        },
    )
    assert forged.status_code == 403
    assert await db.raw("SELECT id FROM member") == []


async def test_sign_in_with_the_emailed_code_then_sign_out(client, smtp_sink):
    await join(client, name="Анна", email="anna@example.ru")
    card = await client.get("/card")
    signed_out = await client.post("/signout", data={"csrf": csrf_of(card.text)})
    assert signed_out.status_code == 303
    assert (await client.get("/card")).headers["location"] == "/signin"
    sent = await post_form(client, "/signin", "/signin", {"email": "Anna@Example.ru"})
    assert sent.status_code == 200 and 'name="code"' in sent.text
    [message] = smtp_sink.to("anna@example.ru")
    assert "Код" in message["Subject"]
    reply = await client.post(
        "/signin/code",
        data={"csrf": csrf_of(sent.text), "email": "anna@example.ru", "code": code_in(message)},
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/card"
    assert (await client.get("/card")).status_code == 200


async def test_an_unknown_address_gets_the_same_page_and_no_mail(client, smtp_sink):
    sent = await post_form(client, "/signin", "/signin", {"email": "nobody@example.ru"})
    assert sent.status_code == 200 and 'name="code"' in sent.text
    assert smtp_sink.messages == []


async def test_five_wrong_codes_lock_the_code(client, smtp_sink):
    await join(client, name="Анна", email="anna@example.ru")
    client.cookies.delete("wsession")
    sent = await post_form(client, "/signin", "/signin", {"email": "anna@example.ru"})
    right = code_in(smtp_sink.to("anna@example.ru")[0])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    token = csrf_of(sent.text)
    for left in (4, 3, 2, 1, 0):
        reply = await client.post(
            "/signin/code", data={"csrf": token, "email": "anna@example.ru", "code": wrong}
        )
        assert reply.status_code == 422
        assert (f"попыток: {left}" in reply.text) if left else ("заблокирован" in reply.text)
    reply = await client.post(
        "/signin/code", data={"csrf": token, "email": "anna@example.ru", "code": right}
    )
    assert reply.status_code == 422 and "заблокирован" in reply.text


async def test_code_sends_are_limited_per_address(client, smtp_sink):
    await join(client, name="Анна", email="anna@example.ru")
    statuses = [
        (await post_form(client, "/signin", "/signin", {"email": "anna@example.ru"})).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert len(smtp_sink.to("anna@example.ru")) == 3


async def test_another_shoppers_card_is_never_shown(client):
    import httpx

    from wallet.app import create_app

    await join(client, name="Анна", email="anna@example.ru")
    mine = re.search(r'id="card-number">([\d ]+)<', (await client.get("/card")).text).group(1)
    transport = httpx.ASGITransport(app=create_app(manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as other:
        await join(other, name="Борис", email="boris@example.ru")
        theirs = (await other.get(f"/card?n={mine.replace(' ', '')}")).text
        assert mine not in theirs and mine.replace(" ", "") not in theirs


async def test_history_lists_receipts_newest_first_with_store(client):
    shop = await Shop.open(client)
    await join(client, name="Анна", email="anna@example.ru")
    number = re.search(r'id="card-number">([\d ]+)<', (await client.get("/card")).text).group(1)
    await shop.receipt(number.replace(" ", ""), "R1", [line(100_000)])
    await shop.receipt(number.replace(" ", ""), "R2", [line(200_000)], redeem=10)
    page = (await client.get("/history")).text
    assert page.index("Чек R2") < page.index("Чек R1")
    assert "Тверская, 12" in page and "+50" in page and "−10" in page


async def test_cashback_without_an_offer_says_so(client):
    await join(client, name="Анна", email="anna@example.ru")
    page = await client.get("/cashback")
    assert page.status_code == 200 and 'id="no-offer"' in page.text


async def test_card_page_weighs_under_100_kb(client):
    await join(client, name="Анна", email="anna@example.ru")
    page = await client.get("/card")
    assert len(page.content) < 100_000


async def test_store_poster_png_holds_the_join_link(client):
    import io

    from PIL import Image
    from pyzbar.pyzbar import decode

    await Shop.open(client, code="SPB-7")
    reply = await client.get("/join/poster.png?store=SPB-7")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    [found] = decode(Image.open(io.BytesIO(reply.content)))
    assert found.data.decode() == "http://testserver.local/join?store=SPB-7"
    svg = await client.get("/join/poster.svg?store=SPB-7")
    assert svg.status_code == 200 and "<svg" in svg.text
    assert (await client.get("/join/poster.png?store=NOPE")).status_code == 404


@pytest.mark.parametrize("path", ["/card", "/history", "/cashback"])
async def test_pages_send_a_stranger_to_sign_in(client, path):
    reply = await client.get(path)
    assert reply.status_code == 303 and reply.headers["location"] == "/signin"
