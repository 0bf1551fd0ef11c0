"""Shopper data rights (152-FZ) through the HTTP API, on both databases: a shopper (or
support, for a letter) exports everything we hold about them; erasure removes the person
and keeps the ledger whole; every marketing message traces to its consent; support's
search and every look at personal data is on record. Each test ends by reconciling every
account (the ``database`` fixture)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from tests.passsync.conftest import Phone, download_pass, read_pkpass, wallets  # noqa: F401
from tests.passsync.test_blocked_cards import _save_to_google
from tests.support.shop import Shop, Shopper, bearer, line, make_key
from wallet import clock, db
from wallet.campaigns import rendering
from wallet.platform import worker


def consenting(name: str, email: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "email": email,
        "consents": {
            "program": True,
            "personal_data": True,
            "terms_version": "2026-03",
            "marketing_email": True,
            "marketing_push": True,
        },
        **extra,
    }


async def join(shop: Shop, name: str, email: str, **extra: Any) -> Shopper:
    reply = await shop.client.post("/api/v1/cards", json=consenting(name, email, **extra))
    assert reply.status_code == 201, reply.text
    data = reply.json()
    return Shopper(data["card_number"], data["account_id"], data["shopper_token"])


async def member_id_of(client: Any, shopper: Shopper) -> int:
    export = await client.get("/api/v1/me/export", headers=shopper.headers)
    assert export.status_code == 200, export.text
    return int(export.json()["profile"]["member_id"])


async def send_campaign(client: Any, key: str) -> int:
    created = await client.post(
        "/api/v1/admin/campaigns",
        json={"name": "Весна", "subject": "{{ name }}, весна!", "body": "Скидки."},
        headers=bearer(key),
    )
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    sent = await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    assert sent.status_code == 200, sent.text
    # One worker round turns the audience into queued deliveries; the sends are the next.
    await worker.run_once()
    pending = await db.raw(
        "SELECT COUNT(*) AS n FROM delivery WHERE campaign_id = {} AND status = 'pending'",
        campaign_id,
    )
    assert int(pending[0]["n"]) >= 1
    return campaign_id


# ---- export --------------------------------------------------------------------------------


async def test_a_shopper_downloads_everything_we_hold_and_support_exports_it_on_record(
    client, smtp_sink
):
    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna@example.ru", phone="+79161234567")
    await shop.receipt(anna.card, "R-1", [line(150_000, sku="MILK-1"), line(5_000, sku="BREAD")])
    marketer = await make_key("marketer")
    await send_campaign(client, marketer)
    await worker.run_until_idle()

    reply = await client.get("/api/v1/me/export", headers=anna.headers)
    assert reply.status_code == 200, reply.text
    assert "attachment" in reply.headers["content-disposition"]
    data = reply.json()
    assert data["profile"]["name"] == "Анна Смирнова"
    assert data["profile"]["email"] == "anna@example.ru"
    assert data["profile"]["phone"] == "+79161234567"
    channels = {c["channel"]: c for c in data["consents"]}
    assert set(channels) == {"program", "personal_data", "marketing_email", "marketing_push"}
    assert all(c["text_version"] == "2026-03" and c["source"] == "join" for c in channels.values())
    assert [c["number"] for c in data["cards"]] == [anna.card]
    [receipt] = data["receipts"]
    assert receipt["receipt_id"] == "R-1"
    assert [x["sku"] for x in receipt["lines"]] == ["MILK-1", "BREAD"]
    assert sum(m["points"] for m in data["movements"]) == data["balance"] > 0
    [message] = data["messages"]
    assert message["channel"] == "email" and message["status"] == "sent" and message["sent_at"]
    # The message names the consent row that allowed it.
    assert message["consent_id"] == channels["marketing_email"]["id"]

    member_id = data["profile"]["member_id"]
    path = f"/api/v1/admin/members/{member_id}/export"
    no_reason = await client.get(path, headers=bearer(shop.support_key))
    assert no_reason.status_code == 400
    assert set(no_reason.json()) >= {"code", "message", "details"}
    shopper_cannot = await client.get(path, params={"reason": "x"}, headers=anna.headers)
    assert shopper_cannot.status_code == 403
    by_post = await client.get(
        path, params={"reason": "letter 2026/17"}, headers=bearer(shop.support_key)
    )
    assert by_post.status_code == 200, by_post.text
    assert by_post.json()["profile"] == data["profile"]
    log = await client.get(
        "/api/v1/admin/privacy/access-log",
        params={"member_id": member_id},
        headers=bearer(shop.admin_key),
    )
    assert log.status_code == 200, log.text
    [seen] = log.json()
    assert seen["action"] == "support.export" and seen["details"]["reason"] == "letter 2026/17"
    assert seen["actor"].startswith("support:") and seen["subject"] == f"member:{member_id}"


# ---- erase ---------------------------------------------------------------------------------


async def test_a_shopper_erases_themselves_with_an_emailed_code_and_the_ledger_stays_whole(
    client,
    smtp_sink,
    wallets,  # noqa: F811
):
    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna@example.ru", phone="+79161234567")
    boris = await join(shop, "Борис Петров", "boris@example.ru")
    await shop.receipt(anna.card, "R-1", [line(100_000)])
    card = await download_pass(shop, anna)
    await _save_to_google(shop, anna)
    phone = Phone(client, device_id="e" * 32, push_token="cd" * 32)
    assert (await phone.register(card)).status_code == 201
    await worker.run_until_idle()
    pushes_before = len(wallets.apns.to(phone.push_token))
    balance = (await shop.me(anna))["balance"]

    asked = await client.post("/api/v1/me/erase", json={}, headers=anna.headers)
    assert asked.status_code == 202, asked.text
    [mail] = smtp_sink.to("anna@example.ru")
    code = re.search(r"\d{6}", str(mail["Subject"])).group(0)  # type: ignore[union-attr]
    wrong = "000000" if code != "000000" else "111111"
    refused = await client.post("/api/v1/me/erase", json={"code": wrong}, headers=anna.headers)
    assert refused.status_code == 422 and refused.json()["code"] == "wrong_code"
    assert (await shop.me(anna))["balance"] == balance  # nothing changed

    erased = await client.post("/api/v1/me/erase", json={"code": code}, headers=anna.headers)
    assert erased.status_code == 200, erased.text
    member_id = erased.json()["member_id"]
    # Signed out everywhere.
    assert (await client.get("/api/v1/me", headers=anna.headers)).status_code == 401
    # The till refuses the card; the account stays in the ledger, anonymous.
    till = await client.post(
        "/api/v1/pos/identify", json={"card_number": anna.card}, headers=bearer(shop.pos_key)
    )
    assert till.status_code in (404, 422) or till.json().get("status") != "active"
    support = bearer(shop.support_key)
    account = await client.get(f"/api/v1/admin/accounts/{anna.account_id}", headers=support)
    assert account.status_code == 200 and account.json()["balance"] == balance
    export = await client.get(
        f"/api/v1/admin/members/{member_id}/export", params={"reason": "check"}, headers=support
    )
    profile = export.json()["profile"]
    assert profile["name"] == "" and profile["email"] is None and profile["phone"] is None
    assert profile["birthday"] is None and not profile["marketing_email"]
    assert not profile["marketing_push"] and not profile["marketing_sms"]
    withdrawn = [c for c in export.json()["consents"] if not c["granted"]]
    assert {c["channel"] for c in withdrawn} == {
        "marketing_email",
        "marketing_push",
        "marketing_sms",
        "personal_data",
    }
    assert "Анна" not in export.text and "anna@example.ru" not in export.text

    # The Apple pass is voided and pushed; an hour later the device registration is gone.
    await worker.run_until_idle()
    assert len(wallets.apns.to(phone.push_token)) == pushes_before + 1
    assert read_pkpass((await phone.fetch(card)).content).json["voided"] is True
    assert (await phone.changed(card)).status_code == 200
    # Google's object is set INACTIVE.
    [google_object] = wallets.google.objects.values()
    assert google_object["state"] == "INACTIVE"
    await worker.run_until_idle(now=clock.now() + timedelta(hours=2))
    assert (await phone.changed(card)).status_code == 204
    assert {d["wallet"] for d in export.json()["devices"]} == {"apple", "google"}
    later = await client.get(
        f"/api/v1/admin/members/{member_id}/export", params={"reason": "c"}, headers=support
    )
    # The Apple registration is dropped; Google's object stays, INACTIVE, so that it stays so.
    assert [d["wallet"] for d in later.json()["devices"]] == ["google"]

    # A second erase answers the same and changes nothing.
    again = await client.post(
        f"/api/v1/admin/members/{member_id}/erase", json={"reason": "letter"}, headers=support
    )
    assert again.status_code == 200 and again.json() == erased.json()
    # Boris is untouched; the same email and phone join again as a new person.
    assert (await shop.me(boris))["balance"] == 0
    anew = await join(shop, "Анна Новая", "anna@example.ru", phone="+79161234567")
    assert anew.account_id != anna.account_id
    assert (await client.get("/api/v1/me/export", headers=anew.headers)).json()["receipts"] == []


async def test_support_erases_on_a_letter_and_queued_marketing_never_goes(client, smtp_sink):
    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna@example.ru")
    await join(shop, "Борис Петров", "boris@example.ru")
    member_id = await member_id_of(client, anna)
    campaign_id = await send_campaign(client, await make_key("marketer"))
    support = bearer(shop.support_key)

    no_reason = await client.post(
        f"/api/v1/admin/members/{member_id}/erase", json={}, headers=support
    )
    assert no_reason.status_code == 400
    unknown = await client.post(
        "/api/v1/admin/members/999999/erase", json={"reason": "x"}, headers=support
    )
    assert unknown.status_code == 404
    erased = await client.post(
        f"/api/v1/admin/members/{member_id}/erase", json={"reason": "letter 17"}, headers=support
    )
    assert erased.status_code == 200, erased.text
    await worker.run_until_idle()

    assert smtp_sink.to("anna@example.ru") == []
    assert len(smtp_sink.to("boris@example.ru")) == 1
    figures = (
        await client.get(f"/api/v1/admin/campaigns/{campaign_id}", headers=bearer(shop.admin_key))
    ).json()["figures"]
    email = next(f for f in figures if f["channel"] == "email")
    assert email["sent"] == 1 and email["reasons"] == {"skipped: consent_withdrawn": 1}
    log = await client.get("/api/v1/admin/privacy/access-log", headers=bearer(shop.admin_key))
    assert [e["action"] for e in log.json()] == ["support.erase"]
    assert log.json()[0]["details"]["reason"] == "letter 17"


# ---- consent trail -------------------------------------------------------------------------


async def test_withdrawing_consent_is_honoured_by_deliveries_already_queued(client, smtp_sink):
    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna@example.ru")
    await join(shop, "Борис Петров", "boris@example.ru")
    member_id = await member_id_of(client, anna)
    campaign_id = await send_campaign(client, await make_key("marketer"))
    # Queued, not yet sent: the shopper withdraws (the one-click unsubscribe of an earlier
    # email).
    token = rendering.unsubscribe_token(member_id, campaign_id)
    reply = await client.post("/unsubscribe", params={"token": token})
    assert reply.status_code in (200, 201), reply.text
    await worker.run_until_idle()

    assert smtp_sink.to("anna@example.ru") == []
    assert len(smtp_sink.to("boris@example.ru")) == 1
    figures = (
        await client.get(f"/api/v1/admin/campaigns/{campaign_id}", headers=bearer(shop.admin_key))
    ).json()["figures"]
    email = next(f for f in figures if f["channel"] == "email")
    assert email["reasons"] == {"skipped: consent_withdrawn": 1}
    trail = (await client.get("/api/v1/me/export", headers=anna.headers)).json()["consents"]
    last = [c for c in trail if c["channel"] == "marketing_email"][-1]
    assert last["granted"] is False and last["source"] == "unsubscribe"


# ---- retention ----------------------------------------------------------------------------


async def test_retention_erases_only_members_idle_for_the_set_years_and_a_dry_run_changes_nothing(
    client, smtp_sink, capsys
):
    import dataclasses

    from wallet import settings
    from wallet.privacy import service

    shop = await Shop.open(client)
    idle = await join(shop, "Ирина Старая", "old@example.ru")
    busy = await join(shop, "Павел Давний", "busy@example.ru")
    fresh = await join(shop, "Нина Новая", "new@example.ru")
    idle_id = await member_id_of(client, idle)
    long_ago = clock.now() - timedelta(days=4 * 365)
    # Two of them joined four years ago; only one has bought anything since.
    async with db.write_transaction():
        for shopper in (idle, busy):
            await db.raw(
                "UPDATE member SET created_at = {} WHERE account = {}", long_ago, shopper.account_id
            )
            await db.raw(
                "UPDATE journal_entry SET created_at = {} WHERE account = {}",
                long_ago,
                shopper.account_id,
            )
    await shop.receipt(busy.card, "R-busy", [line(10_000)])

    off = await service.retention(now=clock.now(), dry_run=False)
    assert off.member_ids == [] and off.years == 0
    settings.override(dataclasses.replace(settings.get(), retention_years=3))
    dry = await service.retention(now=clock.now(), dry_run=True)
    assert dry.member_ids == [idle_id]
    assert (await client.get("/api/v1/me", headers=idle.headers)).status_code == 200

    # The dry-run report support reads before the night: whom it would erase, nothing done.
    import argparse

    from wallet.privacy import commands

    assert await commands.retention(argparse.Namespace(dry_run=True)) == 0
    report = capsys.readouterr().out
    assert report.startswith("would erase 1 member(s) with no activity since ")
    assert f"member {idle_id}\n" in report
    assert (await client.get("/api/v1/me", headers=idle.headers)).status_code == 200

    # The nightly job (the schedule's slot of tonight) erases, nobody else.
    # (Tomorrow at 09:00 in Moscow: the slot opens at 03:00 there, and today's may have been
    # taken while the rule was off.)
    await worker.run_until_idle(now=(clock.now() + timedelta(days=1)).replace(hour=6))
    assert (await client.get("/api/v1/me", headers=idle.headers)).status_code == 401
    assert (await client.get("/api/v1/me", headers=busy.headers)).status_code == 200
    assert (await client.get("/api/v1/me", headers=fresh.headers)).status_code == 200
    again = await service.retention(now=clock.now(), dry_run=True)
    assert again.member_ids == []


# ---- support search ------------------------------------------------------------------------


async def test_support_finds_a_shopper_by_phone_email_card_or_name_and_each_look_is_recorded(
    client,
):
    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna@example.ru", phone="+79161234567")
    await join(shop, "Борис Петров", "boris@example.ru", phone="+79035550000")
    support = bearer(shop.support_key)

    async def find(q: str) -> list[int]:
        reply = await client.get(
            "/api/v1/admin/members/search", params={"q": q, "reason": "call"}, headers=support
        )
        assert reply.status_code == 200, reply.text
        return [m["account_id"] for m in reply.json()["members"]]

    for q in (
        "8 (916) 123-45-67",
        "+7 916 123 45 67",
        "9161234567",
        "ANNA@example.ru",
        anna.card,
        "смирн",
        "Анна",
    ):
        assert await find(q) == [anna.account_id], q
    assert await find("nobody@example.ru") == []
    no_reason = await client.get(
        "/api/v1/admin/members/search", params={"q": "Анна"}, headers=support
    )
    assert no_reason.status_code == 400
    marketer = await make_key("marketer")
    assert (
        await client.get(
            "/api/v1/admin/members/search",
            params={"q": "Анна", "reason": "x"},
            headers=bearer(marketer),
        )
    ).status_code == 403

    member_id = await member_id_of(client, anna)
    log = await client.get(
        "/api/v1/admin/privacy/access-log",
        params={"member_id": member_id},
        headers=support,
    )
    assert log.status_code == 200
    assert len(log.json()) == 7
    assert all(
        e["action"] == "support.search" and e["details"]["reason"] == "call" for e in log.json()
    )
    # The query itself (a phone, an email) is not kept in the trail.
    # (Whole fragments: a bare "916" can turn up inside a timestamp's microseconds.)
    for typed in ("9161234567", "916) 123", "916 123", "anna@", "смирн"):
        assert typed not in log.text, typed


async def test_the_card_page_links_to_a_readable_page_of_my_data(client, smtp_sink):
    from tests.pages.conftest import join as join_on_page
    from tests.pages.conftest import post_form

    shop = await Shop.open(client)
    joined = await join_on_page(client, name="Анна Смирнова", email="anna@example.ru")
    assert joined.status_code in (200, 303), joined.text
    await post_form(client, "/card", "/card/consents", {"marketing_email": "1"})
    [card] = await db.raw("SELECT number FROM card")
    await shop.receipt(
        card["number"], "R-77", [line(150_000, sku="MILK-1"), line(5_000, sku="BREAD")]
    )
    await send_campaign(client, await make_key("marketer"))
    await worker.run_until_idle()

    page = await client.get("/card", follow_redirects=True)
    assert page.status_code == 200 and 'href="/card/my-data"' in page.text
    mine = await client.get("/card/my-data")
    assert mine.status_code == 200
    text = mine.text
    assert "Анна Смирнова" in text and "anna@example.ru" in text
    # Consents by name, with their version, time and where they were given.
    assert "Обработка персональных данных: дано" in text
    assert "Рекламные письма: дано" in text and "на странице карты" in text
    assert "personal_data" not in text and "marketing_email" not in text
    # Receipts with their lines, the points they moved, the message sent and its channel.
    assert "R-77" in text and "MILK-1" in text and "BREAD" in text
    assert "Начислено за покупку" in text
    assert "Письмо · Весна" in text
    for heading in ("Движение баллов", "Предложения и цели", "Устройства"):
        assert f"<h2>{heading}</h2>" in text
    client.cookies.clear()
    stranger = await client.get("/card/my-data")
    assert stranger.status_code == 303 and stranger.headers["location"] == "/signin"


async def test_one_shoppers_access_trail_keeps_looks_older_than_ten_thousand_others(client):
    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna@example.ru", phone="+79161234567")
    member_id = await member_id_of(client, anna)
    support = bearer(shop.support_key)
    looked = await client.get(
        "/api/v1/admin/members/search", params={"q": "Анна", "reason": "call"}, headers=support
    )
    assert [m["member_id"] for m in looked.json()["members"]] == [member_id]
    # A busy support desk afterwards: 10,001 looks at other people.
    await db.raw(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10001) "
        "INSERT INTO audit_event (actor, action, subject, details, created_at) "
        "SELECT 'support:9', 'support.timeline', 'member:' || CAST(n + 1000000 AS TEXT), "
        "{}, {} FROM g",
        '{"reason": "call"}',
        clock.now(),
    )
    trail = await client.get(
        "/api/v1/admin/privacy/access-log",
        params={"member_id": member_id},
        headers=bearer(shop.admin_key),
    )
    assert trail.status_code == 200, trail.text
    [seen] = trail.json()
    assert seen["action"] == "support.search" and seen["subject"] == f"member:{member_id}"
    assert seen["details"] == {"reason": "call", "shown": [member_id]}
    newest = await client.get(
        "/api/v1/admin/privacy/access-log", params={"limit": 2}, headers=bearer(shop.admin_key)
    )
    assert [e["subject"] for e in newest.json()] == ["member:1010001", "member:1010000"]


async def test_a_shopper_erases_themselves_on_the_my_data_page_with_an_emailed_code(
    client, smtp_sink
):
    from tests.pages.conftest import join as join_on_page
    from tests.pages.conftest import post_form

    await Shop.open(client)
    await join_on_page(client, name="Анна Смирнова", email="anna@example.ru")
    smtp_sink.messages.clear()
    shown = await client.get("/card/my-data")
    assert 'id="erase-ask"' in shown.text and "Удалить мои данные" in shown.text
    asked = await post_form(client, "/card/my-data", "/card/my-data/erase", {})
    assert asked.status_code == 200, asked.text
    assert 'id="erase-confirm"' in asked.text and "anna@example.ru" in asked.text
    [mail] = smtp_sink.to("anna@example.ru")
    code = re.search(r"\d{6}", str(mail["Subject"])).group(0)  # type: ignore[union-attr]
    wrong = "000000" if code != "000000" else "111111"
    refused = await post_form(client, "/card/my-data", "/card/my-data/erase", {"code": wrong})
    assert refused.status_code == 422 and "Код не подошёл" in refused.text
    # Without the form's token nothing happens.
    assert (await client.post("/card/my-data/erase", data={"code": code})).status_code == 403
    [member] = await db.raw("SELECT name, erased_at FROM member")
    assert member["name"] == "Анна Смирнова" and member["erased_at"] is None

    erased = await post_form(client, "/card/my-data", "/card/my-data/erase", {"code": code})
    assert erased.status_code == 200 and "Ваши данные удалены" in erased.text
    [member] = await db.raw("SELECT name, email, erased_at FROM member")
    assert member["name"] == "" and member["email"] is None and member["erased_at"]
    # Signed out; the same email joins again as a new person.
    assert (await client.get("/card/my-data")).status_code == 303
    again = await join_on_page(client, name="Анна Новая", email="anna@example.ru")
    assert again.status_code in (200, 303), again.text
    assert len(await db.raw("SELECT id FROM member")) == 2


async def test_an_erase_stops_mail_waiting_in_the_outbox_and_the_outbox_forgets_the_address(
    client, smtp_sink
):
    from wallet.mail import service as mail

    shop = await Shop.open(client)
    anna = await join(shop, "Анна Смирнова", "anna@example.ru")
    member_id = await member_id_of(client, anna)
    async with db.write_transaction():
        await mail.queue_email(
            to="anna@example.ru", template="signin_code", lang="ru", context={"code": "1"}
        )
    await worker.run_until_idle()  # sent: a done job that names her
    sent_before = len(smtp_sink.to("anna@example.ru"))
    assert sent_before >= 1
    async with db.write_transaction():  # waiting when she is erased
        await mail.queue_email(
            to="Anna@Example.ru", template="signin_code", lang="ru", context={"code": "2"}
        )
        await mail.queue_email(
            to="boris@example.ru", template="signin_code", lang="ru", context={"code": "3"}
        )

    erased = await client.post(
        f"/api/v1/admin/members/{member_id}/erase",
        json={"reason": "letter"},
        headers=bearer(shop.support_key),
    )
    assert erased.status_code == 200, erased.text
    await worker.run_until_idle()

    assert len(smtp_sink.to("anna@example.ru")) == sent_before
    assert len(smtp_sink.to("boris@example.ru")) == 1
    jobs = await db.raw("SELECT payload FROM outbox_job")
    assert jobs and not [j for j in jobs if "anna@example.ru" in str(j["payload"]).lower()]
