"""Each shopper has a language (``ru`` or ``en``, Russian by default), set when joining and
changed by the shopper; every email to them speaks it, on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import ChoiceLoader, FileSystemLoader

from tests.offers.support import consenting, in_this_month, make_offer, opt_in, this_month
from tests.pages.conftest import csrf_of, join, post_form
from tests.support.shop import Shop, Shopper, bearer, line, make_key
from wallet import clock, db, settings, words
from wallet.mail import service as mail
from wallet.offers import expiry, service, settlement
from wallet.platform import worker
from wallet.web import templates


def english(email: str) -> dict[str, Any]:
    return {**consenting(email), "language": "en"}


def plain(message: Any) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[no-any-return]


def html(message: Any) -> str:
    return message.get_body(("html",)).get_content()  # type: ignore[no-any-return]


async def members_count() -> int:
    return int((await db.raw("SELECT COUNT(*) AS n FROM member"))[0]["n"])


async def send_campaign(client: Any, **fields: Any) -> None:
    key = await make_key("marketer")
    body = {
        "name": "Весенняя акция",
        "subject": "{{ name }}, у вас {{ balance }} баллов",
        "body": "Приходите за покупками.",
        **fields,
    }
    created = await client.post("/api/v1/admin/campaigns", json=body, headers=bearer(key))
    assert created.status_code == 201, created.text
    sent = await client.post(
        f"/api/v1/admin/campaigns/{created.json()['id']}/send", headers=bearer(key)
    )
    assert sent.status_code == 200, sent.text
    await worker.run_until_idle()


# ---- joining and changing it -----------------------------------------------------------


async def test_language_is_russian_unless_the_shopper_joins_in_english_and_they_can_change_it(
    client,
):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова", email="anna@example.ru")
    john = await shop.enrol("John Smith", email="john@example.com", language="en")
    assert (await shop.me(anna))["language"] == "ru"
    assert (await shop.me(john))["language"] == "en"
    support = await client.get(
        f"/api/v1/admin/accounts/{john.account_id}", headers=bearer(shop.support_key)
    )
    assert support.json()["language"] == "en"

    changed = await client.patch("/api/v1/me", json={"language": "ru"}, headers=john.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "ru" and changed.json()["account_id"] == john.account_id
    assert (await shop.me(john))["language"] == "ru"
    # A body that changes nothing changes nothing.
    same = await client.patch("/api/v1/me", json={}, headers=john.headers)
    assert same.status_code == 200 and same.json()["language"] == "ru"
    assert (await shop.me(anna))["language"] == "ru"
    anonymous = await client.patch("/api/v1/me", json={"language": "en"})
    assert anonymous.status_code == 401


@pytest.mark.parametrize("language", ["de", "EN", "", None, 1])
async def test_a_language_other_than_ru_or_en_is_refused_and_changes_nothing(client, language):
    shop = await Shop.open(client)
    body = {
        "name": "Hans Müller",
        "email": "hans@example.de",
        "consents": {"program": True, "personal_data": True, "terms_version": "2026-01"},
        "language": language,
    }
    refused = await client.post("/api/v1/cards", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "invalid_request" and "language" in refused.text
    assert await members_count() == 0

    john = await shop.enrol("John Smith", email="john@example.com", language="en")
    # In a change, null means "leave it"; anything else that is not ru or en is refused.
    bad_changes = [{"language": "en", "name": "Other"}]
    if language is not None:
        bad_changes.append({"language": language})
    for bad in bad_changes:
        again = await client.patch("/api/v1/me", json=bad, headers=john.headers)
        assert again.status_code == 400, again.text
        assert again.json()["code"] == "invalid_request"
    assert (await shop.me(john))["language"] == "en"


async def test_the_join_page_keeps_its_language_and_the_card_page_changes_it(client):
    client.headers["Accept-Language"] = "en-GB,en;q=0.9"
    joined = await join(client, name="John", email="john@example.com")
    assert joined.status_code == 303, joined.text
    rows = await db.raw("SELECT id, language FROM member")
    assert [row["language"] for row in rows] == ["en"]

    card = await client.get("/card")
    assert "Language of emails" in card.text
    assert 'value="en" id="language-en" checked' in card.text
    # A Russian page for the same shopper: the setting is theirs, not the browser's.
    client.headers["Accept-Language"] = "ru"
    card = await client.get("/card")
    assert "Язык писем" in card.text and 'value="en" id="language-en" checked' in card.text

    refused = await post_form(client, "/card", "/card/language", {"language": "de"})
    assert refused.status_code == 422 and 'id="settings-error"' in refused.text
    assert (await db.raw("SELECT language FROM member"))[0]["language"] == "en"
    # A form without its CSRF token changes nothing.
    forged = await client.post("/card/language", data={"language": "ru"})
    assert forged.status_code == 403
    assert (await db.raw("SELECT language FROM member"))[0]["language"] == "en"

    saved = await post_form(client, "/card", "/card/language", {"language": "ru"})
    assert saved.status_code == 303 and saved.headers["location"] == "/card?msg=language"
    assert (await db.raw("SELECT language FROM member"))[0]["language"] == "ru"
    card = await client.get(saved.headers["location"])
    assert "Настройки сохранены" in card.text
    assert 'value="ru" id="language-ru" checked' in card.text
    assert csrf_of(card.text)


async def test_a_russian_join_page_makes_a_russian_shopper(client):
    client.headers["Accept-Language"] = "ru-RU,ru;q=0.9,en;q=0.5"
    joined = await join(client, name="Анна", email="anna@example.ru")
    assert joined.status_code == 303
    assert (await db.raw("SELECT language FROM member"))[0]["language"] == "ru"


# ---- the emails ------------------------------------------------------------------------


async def test_cashback_outcome_emails_speak_each_shoppers_language(client, smtp_sink):
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    john = await shop.enrol("John Reached", **english("john@example.com"))
    jane = await shop.enrol("Jane Missed", **english("jane@example.com"))
    anna = await shop.enrol("Анна Выполнила", **consenting("anna@example.ru"))
    shoppers: list[Shopper] = [john, jane, anna]
    for shopper in shoppers:
        await opt_in(shop, shopper, offer["id"])
    await shop.receipt(john.card, "J1", [line(5_000_000)], at=in_this_month())
    await shop.receipt(jane.card, "J2", [line(100_000)], at=in_this_month())
    await shop.receipt(anna.card, "A1", [line(5_000_000)], at=in_this_month())

    _start, end = service.month_bounds(this_month())
    settle_at = end + timedelta(days=3)
    report = await settlement.settle_month(this_month(), now=settle_at)
    assert (report.reached, report.missed) == (2, 1)
    await worker.run_until_idle(now=settle_at)

    month = this_month()
    [reached] = smtp_sink.to("john@example.com")
    assert (
        reached["Subject"]
        == f"Goal for {words.month_key(month, 'en')} reached: 1,000\u00a0points of cashback"
    )
    assert "Hello John Reached," in plain(reached)
    [missed] = smtp_sink.to("jane@example.com")
    assert missed["Subject"].startswith(f"Goal for {words.month_key(month, 'en')} missed by ")
    [russian] = smtp_sink.to("anna@example.ru")
    assert (
        russian["Subject"]
        == f"Цель за {words.month_key(month)} выполнена: 1\u00a0000\u00a0баллов кешбэка"
    )
    assert "Здравствуйте, Анна Выполнила!" in plain(russian)


async def test_burn_reminders_speak_each_shoppers_language(client, smtp_sink):
    shop = await Shop.open(client)
    john = await shop.enrol("John Smith", **english("john@example.com"))
    olga = await shop.enrol("Ольга Петрова", **consenting("olga@example.ru"))
    for shopper in (john, olga):
        await shop.give_points(shopper.account_id, 300)
    expires_at = clock.add_months(clock.now(), 6)
    day = (expires_at - timedelta(microseconds=1)).astimezone(settings.get().tz).date()
    moment = expires_at - timedelta(days=7) + timedelta(hours=1)
    assert await expiry.send_reminders(now=moment) == 2
    await worker.run_until_idle(now=moment)

    [english_mail] = smtp_sink.to("john@example.com")
    assert english_mail["Subject"] == f"300\u00a0points expire on {words.date(day, 'en')}"
    assert "Spend them on your next purchases" in plain(english_mail)
    [russian] = smtp_sink.to("olga@example.ru")
    assert russian["Subject"] == f"300\u00a0баллов сгорят {words.date(day)}"


async def test_a_campaign_keeps_the_marketers_text_and_wraps_it_in_each_shoppers_language(
    client, smtp_sink
):
    shop = await Shop.open(client)
    john = await shop.enrol("John Smith", **english("john@example.com"))
    await shop.enrol("Анна Смирнова", **consenting("anna@example.ru"))
    await shop.give_points(john.account_id, 120)
    await send_campaign(client)

    [english_mail] = smtp_sink.to("john@example.com")
    # The marketer's subject and body are one text, as written.
    assert english_mail["Subject"] == "John Smith, у вас 120 баллов"
    text, page = plain(english_mail), html(english_mail)
    assert "Приходите за покупками." in text and "Приходите за покупками." in page
    assert "Hello John Smith," in text and "On your card: 120\u00a0points." in text
    assert "Unsubscribe from these emails: http" in text and "Отписаться" not in text
    assert '<html lang="en">' in page and ">Unsubscribe</a>" in page

    [russian] = smtp_sink.to("anna@example.ru")
    text, page = plain(russian), html(russian)
    assert "Здравствуйте, Анна Смирнова!" in text and "Отписаться от рассылки: http" in text
    assert '<html lang="ru">' in page and ">Отписаться</a>" in page


async def test_a_template_without_an_english_version_reaches_english_shoppers_in_russian(
    client, smtp_sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # A marketer's own template, written only in Russian (and one with only an English
    # subject: a half-translated template is not mixed into the Russian one).
    (tmp_path / "email").mkdir()
    for name, parts in {
        "campaign_plain": {"ru.subject.txt", "ru.html", "ru.txt"},
        "campaign_half": {"ru.subject.txt", "ru.html", "ru.txt", "en.subject.txt"},
    }.items():
        for part in parts:
            words = "English" if part.startswith("en") else "Только по-русски"
            tail = "" if part.endswith("subject.txt") else " {{ unsubscribe_url }}"
            (tmp_path / "email" / f"{name}.{part}").write_text(
                f"{words}: {{{{ subject }}}}{tail}\n", encoding="utf-8"
            )
    loader = ChoiceLoader(
        [FileSystemLoader(str(tmp_path)), FileSystemLoader(str(templates.TEMPLATES))]
    )
    monkeypatch.setattr(templates.env, "loader", loader)

    shop = await Shop.open(client)
    await shop.enrol("John Smith", **english("john@example.com"))
    await send_campaign(client, template="campaign_plain", subject="Акция")
    [message] = smtp_sink.to("john@example.com")
    assert message["Subject"] == "Только по-русски: Акция"
    assert plain(message).startswith("Только по-русски: Акция http://testserver.local/unsub")

    assert mail.language_of("campaign_half", "en") == "ru"
    subject, _html, text = mail.render(
        "campaign_half", lang="en", context={"subject": "S", "unsubscribe_url": "u"}
    )
    assert (subject, text.strip()) == ("Только по-русски: S", "Только по-русски: S u")
    # A template that has English is sent in English, and an unknown language in Russian.
    assert mail.language_of("campaign_default", "en") == "en"
    assert mail.language_of("campaign_default", "de") == "ru"
