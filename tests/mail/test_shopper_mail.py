"""The emails a shopper gets, through the real outbox and a loopback SMTP server: one burn
reminder for several dates, subjects that read as written, a card page and an API that
switch marketing back on, and a test send whose unsubscribe link opens."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.campaigns.test_campaigns import campaign
from tests.offers.support import consenting
from tests.support.shop import Shop, bearer, make_key
from wallet import clock, db, settings, words
from wallet.ledger import service as ledger
from wallet.offers import expiry
from wallet.platform import worker


def plain(message) -> str:
    return message.get_body(("plain",)).get_content()


async def test_points_burning_on_three_dates_come_in_one_email_with_their_total(client, smtp_sink):
    shop = await Shop.open(client)
    olga = await shop.enrol("Ольга Петрова", **consenting("olga@example.ru"))
    now = clock.now()
    granted = {3: 100, 2: 21, 1: 111}  # days ago: points
    async with db.write_transaction():
        for days, points in granted.items():
            await ledger.adjust(
                olga.account_id,
                points,
                reason="goodwill",
                actor="test",
                now=now - timedelta(days=days),
            )
    last_expiry = clock.add_months(now - timedelta(days=1), 6)
    moment = last_expiry - timedelta(days=6)
    assert await expiry.send_reminders(now=moment) == 3
    assert await expiry.send_reminders(now=moment) == 0
    await worker.run_until_idle(now=moment)

    [message] = smtp_sink.to("olga@example.ru")
    zone = settings.get().tz
    last_day = (last_expiry - timedelta(microseconds=1)).astimezone(zone).date()
    assert message["Subject"] == f"232\u00a0балла сгорят до {words.date(last_day)}"
    text = plain(message)
    for points in (100, 21, 111):
        assert f": {words.points(points)}" in text, text
    # The shared layout: a Date header, a phone-width viewport, the logo from our site.
    assert message["Date"] is not None
    html = message.get_body(("html",)).get_content()
    assert 'name="viewport"' in html
    logo = re.search(r'<img src="([^"]+)"', html).group(1)
    assert logo == "http://testserver.local/icons/email-logo.png"
    served = await client.get("/icons/email-logo.png")
    assert served.status_code == 200 and served.content.startswith(b"\x89PNG")


async def test_a_long_russian_subject_keeps_every_space_when_folded(client, smtp_sink):
    await Shop.open(client)
    key = await make_key("marketer")
    subject = (
        "Иван, 300 баллов сгорят 31 декабря уже через неделю — успейте потратить их "
        "в наших магазинах до конца года"
    )
    created = await campaign(client, key, subject=subject)
    reply = await client.post(
        f"/api/v1/admin/campaigns/{created['id']}/test",
        json={"email": "me@example.ru"},
        headers=bearer(key),
    )
    assert reply.status_code == 200, reply.text
    [message] = smtp_sink.messages
    assert message["Subject"] == f"[ТЕСТ] {subject}"
    # On the wire: ASCII encoded words folded into short lines, and decoded back by the
    # RFC 2047 rules every mail client follows (whitespace between two encoded words is
    # dropped) it is the subject as written, every space kept.
    [raw] = smtp_sink.raw
    assert wire_subject(raw) == f"[ТЕСТ] {subject}"
    assert re.search(rb"\r\nDate: [A-Z][a-z]{2}, \d", raw), raw[:400]


def wire_subject(raw: bytes) -> str:
    """The Subject header of a message as the SMTP server received it, checked to be
    ASCII lines of at most 78 characters folded in several, unfolded and decoded as a mail
    client does."""
    from email.header import decode_header, make_header

    lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.lower().startswith(b"subject:"))
    folded = [lines[start]]
    for line in lines[start + 1 :]:
        if line[:1] not in (b" ", b"\t"):
            break
        folded.append(line)
    assert len(folded) > 1, folded  # long enough to be folded
    for line in folded:
        assert line.isascii() and len(line) <= 78, folded
    value = b"".join(folded)[len(b"Subject:") :].decode("ascii")  # unfolding drops CRLF only
    return str(make_header(decode_header(value)))


async def test_the_test_sends_unsubscribe_link_opens_and_changes_nothing(client, smtp_sink):
    await Shop.open(client)
    key = await make_key("marketer")
    created = await campaign(client, key)
    await client.post(
        f"/api/v1/admin/campaigns/{created['id']}/test",
        json={"email": "me@example.ru"},
        headers=bearer(key),
    )
    [message] = smtp_sink.messages
    link = re.search(r"(http\S+/unsubscribe\?token=[\w.\-]+)", plain(message)).group(1)
    path = link.split("testserver.local", 1)[-1] if "testserver.local" in link else link
    shown = await client.get(path)
    assert shown.status_code == 200 and "Отписаться" in shown.text
    token = path.split("token=", 1)[1]
    done = await client.post("/unsubscribe", data={"token": token})
    assert done.status_code == 200 and "тестовое письмо" in done.text


async def test_a_shopper_switches_marketing_back_on_through_the_api(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова", **consenting("anna@example.ru"))
    me = await shop.me(anna)
    assert (me["marketing_email"], me["marketing_push"]) == (True, False)
    off = await client.patch(
        "/api/v1/me", json={"marketing_email": False, "marketing_push": True}, headers=anna.headers
    )
    assert off.status_code == 200, off.text
    assert (off.json()["marketing_email"], off.json()["marketing_push"]) == (False, True)
    again = await client.patch("/api/v1/me", json={"marketing_email": True}, headers=anna.headers)
    assert (again.json()["marketing_email"], again.json()["marketing_push"]) == (True, True)
    bad = await client.patch("/api/v1/me", json={"marketing_email": "yes"}, headers=anna.headers)
    assert bad.status_code in (400, 422)
    assert (await shop.me(anna))["marketing_email"] is True


async def test_the_card_page_switches_marketing_on_and_off_and_opens_the_wallets(client):
    from tests.pages.conftest import join, post_form

    await join(client, name="Анна", email="anna@example.ru")
    page = (await client.get("/card")).text
    assert 'id="marketing-email"' in page and 'id="marketing-email" checked' not in page
    saved = await post_form(
        client, "/card", "/card/consents", {"marketing_email": "1", "marketing_push": "1"}
    )
    assert saved.status_code == 303
    page = (await client.get("/card")).text
    assert 'id="marketing-email" checked' in page and 'id="marketing-push" checked' in page
    await post_form(client, "/card", "/card/consents", {"marketing_push": "1"})
    page = (await client.get("/card")).text
    assert 'id="marketing-email" checked' not in page and 'id="marketing-push" checked' in page
    # Without the form's token nothing changes.
    refused = await client.post("/card/consents", data={"marketing_email": "1"})
    assert refused.status_code == 403
    assert 'id="marketing-email" checked' not in (await client.get("/card")).text
    # The welcome email's wallet buttons open a fresh signed pass link.
    apple = await client.get("/card?add=apple")
    assert apple.status_code == 303 and ".pkpass?expires=" in apple.headers["location"]
    google = await client.get("/card?add=google")
    assert google.status_code == 303 and "/google?expires=" in google.headers["location"]


async def test_links_and_a_button_in_a_campaign_count_each_shoppers_first_click(client, smtp_sink):
    from tests.campaigns.test_campaigns import enrol, figures

    shop = await Shop.open(client)
    key = await make_key("marketer")
    yes = {"marketing_email": True}
    for n in range(2):
        await enrol(shop, f"Покупатель {n}", f"c{n}@example.ru", consents=yes)
    body = (
        "Скидки недели: https://shop.example/sale. И <b>не</b> только.\n\n"
        "[Открыть каталог](https://shop.example/catalog)\n\n[Моя карта]"
    )
    created = await campaign(client, key, body=body)
    await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    [first] = smtp_sink.to("c0@example.ru")
    html = first.get_body(("html",)).get_content()
    # The marketer's text stays text; the links and the button go through the counter.
    assert "&lt;b&gt;не&lt;/b&gt;" in html
    links = [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+/c/[^"]+)"', html)]
    assert len(links) == 3, html
    assert "Открыть каталог" in html and "Моя карта" in html
    text = plain(first)
    assert "Открыть каталог: https://shop.example/catalog" in text

    targets = []
    for link in links:
        followed = await client.get(link.split("testserver.local", 1)[1])
        assert followed.status_code == 302, followed.text
        targets.append(followed.headers["location"])
    assert targets[0] == "https://shop.example/sale"
    assert targets[1] == "https://shop.example/catalog"
    assert targets[2].endswith("/card")
    data = await figures(client, key, created["id"])
    assert data["figures"][0]["clicked"] == 1  # one shopper, three taps

    # A link pointed elsewhere, or signed for another shopper, is refused with a page.
    path = links[0].split("testserver.local", 1)[1]
    forged = path.replace("u=https%3A%2F%2Fshop.example", "u=https%3A%2F%2Fevil.example")
    assert (await client.get(forged)).status_code == 400
    other = re.sub(r"/c/(\d+)/(\d+)", lambda m: f"/c/{m.group(1)}/{int(m.group(2)) + 1}", path)
    assert (await client.get(other)).status_code == 400
    assert (await figures(client, key, created["id"]))["figures"][0]["clicked"] == 1


async def test_the_card_and_the_reminder_count_every_lot_burning_that_day(client, smtp_sink):
    from datetime import datetime

    shop = await Shop.open(client)
    olga = await shop.enrol("Ольга Петрова", **consenting("olga@example.ru"))
    zone = settings.get().tz
    yesterday = (clock.now() - timedelta(days=1)).astimezone(zone).date()
    morning = clock.to_utc(
        datetime(yesterday.year, yesterday.month, yesterday.day, 10, tzinfo=zone)
    )
    async with db.write_transaction():
        await ledger.adjust(olga.account_id, 21, reason="goodwill", actor="test", now=morning)
        await ledger.adjust(
            olga.account_id, 209, reason="goodwill", actor="test", now=morning + timedelta(hours=4)
        )
    me = await shop.me(olga)
    assert me["next_expiry"]["points"] == 230  # not 21, the first lot alone

    burns = clock.add_months(morning, 6)
    moment = burns - timedelta(days=6)
    assert await expiry.send_reminders(now=moment) == 1
    await worker.run_until_idle(now=moment)
    [message] = smtp_sink.to("olga@example.ru")
    assert message["Subject"].startswith("230\u00a0баллов сгорят ")


async def test_a_campaign_writes_the_balance_with_its_plural_and_no_empty_burn_phrase(
    client, smtp_sink
):
    from tests.campaigns.test_campaigns import enrol

    shop = await Shop.open(client)
    key = await make_key("marketer")
    shopper = await enrol(shop, "Ольга", "olga22@example.ru", consents={"marketing_email": True})
    await shop.give_points(shopper.account_id, 22)
    created = await campaign(
        client,
        key,
        subject="{{ name }}, у вас {{ balance|points }}",
        body="Спасибо, что вы с нами. {{ burning }}",
    )
    await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    [message] = smtp_sink.to("olga22@example.ru")
    assert message["Subject"] == "Ольга, у вас 22\u00a0балла"
    text = plain(message)
    assert "сгорят" not in text and "Спасибо, что вы с нами." in text
    assert "На вашей карте: 22\u00a0балла." in text


async def test_the_welcome_email_carries_the_apple_and_google_buttons(client, smtp_sink):
    from tests.campaigns.test_automatic_messages import switch_on
    from tests.campaigns.test_campaigns import enrol

    shop = await Shop.open(client)
    key = await make_key("marketer")
    await switch_on(client, key, "welcome")
    await enrol(shop, "Анна Новая", "anna.new@example.ru", consents={"marketing_email": True})
    await worker.run_until_idle()
    [message] = smtp_sink.to("anna.new@example.ru")
    [raw] = smtp_sink.raw
    assert wire_subject(raw) == "Анна Новая, добро пожаловать в программу лояльности"
    html = message.get_body(("html",)).get_content()
    card = "http://testserver.local/card"
    assert re.search(
        rf'id="add-apple" href="{card}\?add=apple"[^>]*>Добавить в Apple Wallet<', html
    )
    assert re.search(
        rf'id="add-google" href="{card}\?add=google"[^>]*>Сохранить в Google Wallet<', html
    )
    text = plain(message)
    assert f"Apple Wallet: {card}?add=apple" in text and f"Google Wallet: {card}?add=google" in text


def test_cashback_emails_name_only_what_exists():
    """The month's cashback outcome points at the cashback page and the card in Apple or
    Google Wallet, never at an app of ours: there is none."""
    from tests.words.test_plurals_everywhere import _email_contexts
    from wallet.mail import service as mail

    contexts = _email_contexts(22)
    for name in ("cashback_reached", "cashback_missed"):
        for lang in ("ru", "en"):
            subject, html, text = mail.render(name, lang=lang, context=contexts[name])
            for part in (subject, html, text):
                found = re.search(r"приложени|мобильн|\bapps?\b|App Store|Google Play", part, re.I)
                assert found is None, (name, lang, found)
            assert "https://w.example/card" in html or "https://w.example/cashback" in html


async def test_the_card_page_and_the_reminder_email_say_the_same_burn(client, smtp_sink):
    """What the card page says burns next is what the reminder email lists for that day,
    and the email also counts a later day in its total."""
    from datetime import datetime

    from tests.pages.conftest import join, post_form

    await join(client, name="Анна", email="anna.burn@example.ru")
    await post_form(client, "/card", "/card/consents", {"marketing_email": "1"})
    page = (await client.get("/card")).text
    number = re.search(r'id="card-number">([\d ]+)<', page).group(1).replace(" ", "")
    [row] = await db.raw("SELECT account FROM card WHERE number = {}", number)
    zone = settings.get().tz
    first = (clock.now() - timedelta(days=2)).astimezone(zone).date()
    morning = clock.to_utc(datetime(first.year, first.month, first.day, 10, tzinfo=zone))
    async with db.write_transaction():
        for points, at in (
            (21, morning),
            (209, morning + timedelta(hours=4)),
            (5, morning + timedelta(days=1)),
        ):
            await ledger.adjust(row["account"], points, reason="goodwill", actor="t", now=at)

    burns = clock.add_months(morning, 6)
    day_one = (burns - timedelta(microseconds=1)).astimezone(zone).date()
    day_two = day_one + timedelta(days=1)
    shown = re.search(r'<span id="next-burn">([^<]+)<', (await client.get("/card")).text)
    assert shown.group(1) == f"Сгорят {words.date(day_one)}: 230\u00a0баллов"

    moment = burns - timedelta(days=6)
    assert await expiry.send_reminders(now=moment) == 2
    await worker.run_until_idle(now=moment)
    [message] = smtp_sink.to("anna.burn@example.ru")
    assert message["Subject"] == f"235\u00a0баллов сгорят до {words.date(day_two)}"
    text = plain(message)
    assert f"- {words.date(day_one)}: 230\u00a0баллов" in text, text
    assert f"- {words.date(day_two)}: 5\u00a0баллов" in text, text


async def test_a_shopper_who_unsubscribed_finds_the_way_back_on_the_card_page(client, smtp_sink):
    """The unsubscribe page promises a way back: it links to the card's settings, where
    the shopper switches marketing email on again, and the next campaign reaches them."""
    from tests.pages.conftest import join, post_form

    await Shop.open(client)
    key = await make_key("marketer")
    await join(client, name="Анна", email="anna.back@example.ru")
    await post_form(client, "/card", "/card/consents", {"marketing_email": "1"})
    first = await campaign(client, key, subject="Первое", body="Текст")
    await client.post(f"/api/v1/admin/campaigns/{first['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    [message] = smtp_sink.to("anna.back@example.ru")
    token = re.search(r"/unsubscribe\?token=([\w.\-]+)", plain(message)).group(1)
    done = await client.post("/unsubscribe", data={"token": token})
    assert done.status_code == 200 and "Вы отписаны" in done.text
    way_back = re.search(r'<a id="way-back" href="([^"]+)"', done.text).group(1)
    card = await client.get(way_back.split("#")[0])
    assert card.status_code == 200 and 'id="settings"' in card.text
    assert 'id="marketing-email" checked' not in card.text  # the unsubscribe took

    second = await campaign(client, key, subject="Второе", body="Текст")
    await client.post(f"/api/v1/admin/campaigns/{second['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    assert len(smtp_sink.to("anna.back@example.ru")) == 1  # unsubscribed: nothing new

    await post_form(client, "/card", "/card/consents", {"marketing_email": "1"})
    third = await campaign(client, key, subject="Третье", body="Текст")
    await client.post(f"/api/v1/admin/campaigns/{third['id']}/send", headers=bearer(key))
    await worker.run_until_idle()
    assert [m["Subject"] for m in smtp_sink.to("anna.back@example.ru")] == ["Первое", "Третье"]
