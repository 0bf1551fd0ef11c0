"""Cards in «Кошелёк»: its calls to our service, and our pushes to its Push API."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from tests.koshelek.standin import Koshelek
from tests.promotions.test_coupons_api import COUPON_DEAL, codes_of, coupons, receipt_with
from tests.promotions.test_promotions_api import promo, seed
from tests.support.shop import Shop, bearer, line, make_key
from wallet import clock, db
from wallet import settings as settings_module
from wallet.auth import service as auth
from wallet.members import service as members
from wallet.platform import worker

JSON_UTF8 = "application/json; charset=utf-8"


def strings_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(strings_only(v) for v in value.values())
    if isinstance(value, list):
        return all(strings_only(v) for v in value)
    return isinstance(value, str)


def assert_refused(reply: Any, code: str) -> None:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == JSON_UTF8
    body = reply.json()
    assert set(body) == {"code", "description"} and body["code"] == code
    assert any("а" <= ch <= "я" for ch in body["description"].lower())


def set_(**fields: Any) -> None:
    settings_module.override(dataclasses.replace(settings_module.get(), **fields))


async def known_shopper(shop: Shop, **extra: Any) -> Any:
    return await shop.enrol(
        "Ольга Петрова",
        email="olga@example.ru",
        phone="+79161234567",
        birthday="1990-05-17",
        **extra,
    )


async def test_the_service_is_closed_until_credentials_are_set_and_refuses_wrong_ones(
    client, koshelek_on
):
    koshelek = Koshelek(client)
    assert (await koshelek.search(msisdn="79161234567")).status_code == 200
    wrong = Koshelek(client, password="guess")
    reply = await wrong.search(msisdn="79161234567")
    assert reply.status_code == 401 and reply.headers["www-authenticate"].startswith("Basic")
    assert (await client.get("/koshelek/v1/card")).status_code == 401
    set_(koshelek_password="")
    assert (await koshelek.search(msisdn="79161234567")).status_code == 404
    schema = (await client.get("/schema/openapi.json")).json()
    assert not any(path.startswith("/koshelek") for path in schema["paths"])


async def test_search_is_an_or_of_its_parameters_and_answers_strings_only(client, koshelek_on):
    shop = await Shop.open(client)
    olga = await known_shopper(shop)
    koshelek = Koshelek(client)

    for params in (
        {"msisdn": "79161234567"},
        {"email": "olga@example.ru"},
        {"birthDate": "1990-05-17"},
        # OR: a wrong phone does not hide the right email; unknown parameters are ignored.
        {"msisdn": "79990000000", "email": "olga@example.ru", "loyaltyLevel": "gold"},
    ):
        reply = await koshelek.search(**params)
        assert reply.status_code == 200, (params, reply.text)
        assert reply.headers["content-type"] == JSON_UTF8
        card = reply.json()["card"]
        assert strings_only(reply.json())
        assert card == {
            "cardNumber": olga.card,
            "cardState": "active",
            "barcode": {"barcodeNumber": olga.card, "barcodeType": "CODE_128"},
        }

    nobody = await koshelek.search(msisdn="79990000000", email="nobody@example.ru")
    assert nobody.status_code == 200 and nobody.content == b""

    set_(koshelek_barcode="QR_CODE")
    reply = await koshelek.search(msisdn="79161234567")
    assert reply.json()["card"]["barcode"]["barcodeType"] == "QR_CODE"


async def test_a_blocked_card_is_refused_in_koshelek_and_at_the_till(client, koshelek_on):
    shop = await Shop.open(client)
    olga = await known_shopper(shop)
    blocked = await client.post(
        f"/api/v1/admin/cards/{olga.card}/block",
        json={"reason": "lost"},
        headers=bearer(shop.support_key),
    )
    assert blocked.status_code == 200, blocked.text
    koshelek = Koshelek(client)

    assert_refused(await koshelek.search(msisdn="79161234567"), "1001")
    assert_refused(await koshelek.issue(msisdn="79161234567", termsAccepted="true"), "1001")
    await shop.receipt(olga.card, "R-blocked", [line(10000)], expect=422)

    set_(koshelek_refuse_blocked=False)
    reply = await koshelek.search(email="olga@example.ru")
    assert reply.json()["card"]["cardState"] == "inactive"


async def test_a_new_shopper_issues_the_card_in_one_step_and_earns_with_it(client, koshelek_on):
    shop = await Shop.open(client)
    koshelek = Koshelek(client)
    reply = await koshelek.issue(
        msisdn="79035550101",
        email="Ivan@Example.ru",
        firstName="Иван",
        lastName="Кузнецов",
        birthDate="1985-02-03",
        termsAccepted="true",
        termsVersion="2026-01",
        allow=["email", "sms"],
        deny=["call"],
    )
    assert reply.status_code == 200, reply.text
    assert strings_only(reply.json())
    number = reply.json()["card"]["cardNumber"]
    assert reply.json()["card"]["cardState"] == "active"

    # Issuing again (another phone, the same person) gives the same card, nothing new.
    again = await koshelek.issue(msisdn="79035550101", termsAccepted="true")
    assert again.json()["card"]["cardNumber"] == number
    found = await koshelek.search(msisdn="79035550101")
    assert found.json()["card"]["cardNumber"] == number

    card = await members.find_card(number)
    member = await members.member_of_account(card.account_id)
    assert member is not None
    assert member["name"] == "Иван Кузнецов" and member["email"] == "ivan@example.ru"
    assert member["phone"] == "+79035550101" and str(member["birthday"]) == "1985-02-03"
    assert member["marketing_email"] is True and member["marketing_push"] is False
    trail = await db.raw(
        "SELECT action, details FROM audit_event WHERE actor = 'koshelek' ORDER BY id"
    )
    assert [row["action"] for row in trail][:2] == ["consent.join", "consent.koshelek_channels"]
    assert "koshelek" in str(trail[0]["details"])

    await shop.receipt(number, "R-k1", [line(100000)])
    token = await auth.issue_shopper_token(int(member["id"]), now=clock.now())
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    balance = me.json()["balance"]
    assert balance > 0
    assert me.json()["cards"][0]["number"] == number


async def test_a_known_shopper_gets_the_existing_card_and_terms_are_required(client, koshelek_on):
    shop = await Shop.open(client)
    olga = await known_shopper(shop)
    koshelek = Koshelek(client)
    reply = await koshelek.issue(msisdn="79161234567", termsAccepted="true")
    assert reply.json()["card"]["cardNumber"] == olga.card
    assert_refused(await koshelek.issue(msisdn="79035550199"), "1004")
    assert_refused(await koshelek.issue(email="x@example.ru", termsAccepted="true"), "1005")
    rows = await db.raw("SELECT COUNT(*) AS n FROM member")
    assert int(rows[0]["n"]) == 1
    assert_refused(
        await client.post(
            "/koshelek/v1/promo/code",
            json={"cardNumber": olga.card, "code": "SPRING"},
            headers=koshelek.auth,
        ),
        "1102",  # no such promo code
    )


async def test_a_promo_code_typed_in_koshelek_becomes_the_shoppers_coupon(client, koshelek_on):
    shop = await Shop.open(client)
    olga = await known_shopper(shop)
    koshelek = Koshelek(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    [code] = await codes_of(shop, await coupons(shop, deal["id"], {"count": 1}))

    typed = await client.post(
        "/koshelek/v1/promo/code",
        json={"cardNumber": olga.card, "code": code.lower()},
        headers=koshelek.auth,
    )
    assert typed.status_code == 200, typed.text
    # Hers now: shown on her card page and given at the till once.
    sale = await receipt_with(shop, olga.card, "K1", [])
    assert sale["discount_kopecks"] == 0
    again = await client.post(
        "/koshelek/v1/promo/code",
        json={"cardNumber": olga.card, "code": code},
        headers=koshelek.auth,
    )
    assert again.status_code == 200, again.text  # still hers, still unused
    used = await receipt_with(shop, olga.card, "K2", [code])
    assert used["discount_kopecks"] == 2_000
    assert_refused(
        await client.post(
            "/koshelek/v1/promo/code",
            json={"cardNumber": olga.card, "code": code},
            headers=koshelek.auth,
        ),
        "1103",  # used
    )


async def campaign(client: Any, key: str, **fields: Any) -> int:
    body = {"name": "Весна", "subject": "Весна", "body": "Скидки.", **fields}
    reply = await client.post("/api/v1/admin/campaigns", json=body, headers=bearer(key))
    assert reply.status_code == 201, reply.text
    sent = await client.post(
        f"/api/v1/admin/campaigns/{reply.json()['id']}/send", headers=bearer(key)
    )
    assert sent.status_code == 200, sent.text
    await worker.run_until_idle()
    return int(reply.json()["id"])


async def channel_figures(client: Any, key: str, campaign_id: int, channel: str) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/admin/campaigns/{campaign_id}", headers=bearer(key))
    return next(f for f in reply.json()["figures"] if f["channel"] == channel)


async def test_withdrawing_email_in_koshelek_stops_email_marketing(client, koshelek_on, smtp_sink):
    await Shop.open(client)
    key = await make_key("marketer")
    koshelek = Koshelek(client)
    issued = await koshelek.issue(
        msisdn="79035550101", email="ivan@example.ru", termsAccepted="true", allow=["email"]
    )
    number = issued.json()["card"]["cardNumber"]
    await campaign(client, key)
    assert len(smtp_sink.to("ivan@example.ru")) == 1

    reply = await koshelek.channels(number, deny=["email"], allow=["sms"])
    assert reply.status_code == 200 and reply.headers["content-type"] == JSON_UTF8
    second = await campaign(client, key)
    assert len(smtp_sink.to("ivan@example.ru")) == 1
    # Given once, withdrawn in Кошелёк: unsubscribed (no_consent is for never given).
    assert (await channel_figures(client, key, second, "email"))["reasons"] == {
        "skipped: unsubscribed": 1
    }
    trail = await db.raw(
        "SELECT details FROM audit_event WHERE action = 'consent.marketing_email' ORDER BY id"
    )
    assert '"value": false' in str(trail[-1]["details"]).replace("False", "false").replace("'", '"')
    assert_refused(await koshelek.channels("0000000000000000", deny=["email"]), "1003")


async def test_a_koshelek_campaign_pushes_promo_to_registered_phones_and_records_callbacks(
    client, push_api
):
    await Shop.open(client)
    key = await make_key("marketer")
    koshelek = Koshelek(client)
    for phone in ("79035550101", "79035550102"):
        await koshelek.issue(msisdn=phone, termsAccepted="true", allow=["push"])
    push_api.registered.add(79035550101)
    long_text = "Весенняя распродажа: " + "скидки на всё " * 15
    campaign_id = await campaign(
        client,
        key,
        channels=["koshelek"],
        push_header="{{ name }}, большая весенняя распродажа во всех магазинах сети",
        push_text=long_text,
    )
    assert len(push_api.pushes) == 2 and push_api.refused_auth == 0
    for push in push_api.pushes:
        assert push["pushType"] == "PROMO" and isinstance(push["msisdn"], int)
        assert len(push["payload"]["title"]) <= 50 and len(push["payload"]["message"]) <= 150
        assert push["payload"]["deeplink"] == {"target": "card"}
    figures = await channel_figures(client, key, campaign_id, "koshelek")
    assert figures["sent"] == 1 and figures["skipped"] == 1
    assert figures["reasons"] == {"skipped: MSISDN_NOT_REGISTERED": 1}

    rows = await db.raw(
        "SELECT message_id FROM koshelek_push WHERE state = 'ENQUEUED' AND push_type = 'PROMO'"
    )
    message_id = rows[0]["message_id"]
    assert (await koshelek.callback(message_id, "DELIVERED")).status_code == 200
    assert (await koshelek.callback(message_id, "OPENED")).status_code == 200
    row = (
        await db.raw(
            "SELECT state, delivered_at, opened_at FROM koshelek_push WHERE message_id = {}",
            message_id,
        )
    )[0]
    assert row["state"] == "OPENED" and row["delivered_at"] and row["opened_at"]
    assert (await Koshelek(client, password="x").callback(message_id, "OPENED")).status_code == 401

    # The shopper withdraws pushes in Кошелёк: the next campaign does not reach them.
    card = (await koshelek.search(msisdn="79035550101")).json()["card"]["cardNumber"]
    await koshelek.channels(card, deny=["push"])
    push_api.pushes.clear()
    await campaign(client, key, channels=["koshelek"], push_text="Ещё скидки")
    assert [p["msisdn"] for p in push_api.pushes] == [79035550102]


async def test_a_receipt_pushes_the_balance_once_within_the_rate_limit(client, push_api):
    shop = await Shop.open(client)
    koshelek = Koshelek(client)
    issued = await koshelek.issue(msisdn="79035550101", termsAccepted="true")
    number = issued.json()["card"]["cardNumber"]
    push_api.registered.add(79035550101)
    await shop.receipt(number, "R-1", [line(100000)])
    await worker.run_until_idle()
    await shop.receipt(number, "R-2", [line(50000)])
    await worker.run_until_idle()
    pushes = push_api.of_type("TRANSACTION")
    assert len(pushes) == 1 and pushes[0]["msisdn"] == 79035550101
    assert len(pushes[0]["payload"]["title"]) <= 50
    await worker.run_until_idle(now=clock.now() + timedelta(hours=1))
    await shop.receipt(number, "R-3", [line(50000)], at=clock.now())
    await worker.run_until_idle(now=clock.now() + timedelta(hours=1))
    assert len(push_api.of_type("TRANSACTION")) == 1


async def test_an_erased_shopper_is_forgotten_by_our_koshelek_service_too(client, koshelek_on):
    shop = await Shop.open(client)
    koshelek = Koshelek(client)
    issued = await koshelek.issue(msisdn="79035550177", termsAccepted="true")
    assert issued.status_code == 200, issued.text
    card = await members.find_card(issued.json()["card"]["cardNumber"])
    member = await members.member_of_account(card.account_id)
    assert member is not None
    erased = await client.post(
        f"/api/v1/admin/members/{member['id']}/erase",
        json={"reason": "letter of 2026-11-30"},
        headers=bearer(shop.support_key),
    )
    assert erased.status_code == 200, erased.text
    # Кошелёк finds nobody by the phone any more, and we keep no phone of theirs.
    found = await koshelek.search(msisdn="79035550177")
    assert found.status_code == 200 and found.content == b""
    rows = await db.raw("SELECT msisdn FROM koshelek_card WHERE account_id = {}", card.account_id)
    assert rows == []
