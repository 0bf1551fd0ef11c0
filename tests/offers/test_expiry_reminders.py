"""Points burn on their date, with reminders 30 and 7 days before, once each."""

from __future__ import annotations

from datetime import timedelta

from tests.offers.support import consenting
from tests.support.shop import Shop
from wallet import clock, settings
from wallet.ledger import service as ledger
from wallet.offers import expiry, progress
from wallet.platform import worker


async def test_reminders_go_out_once_per_lead_time_and_points_expire_on_their_date(
    client, smtp_sink
):
    shop = await Shop.open(client)
    olga = await shop.enrol("Ольга Петрова", **consenting("olga@example.ru"))
    quiet = await shop.enrol("Иван Тихий", email="ivan@example.ru")
    await shop.give_points(olga.account_id, 300)
    await shop.give_points(quiet.account_id, 50)
    expires_at = clock.add_months(clock.now(), 6)
    day = (expires_at - timedelta(microseconds=1)).astimezone(settings.get().tz).date()
    assert await progress.burn_reminder_for_pass(olga.account_id, now=clock.now()) is None

    for lead in (30, 7):
        moment = expires_at - timedelta(days=lead) + timedelta(hours=1)
        assert await expiry.send_reminders(now=moment) == 2
        assert await expiry.send_reminders(now=moment) == 0
        await worker.run_until_idle(now=moment)
        due = await progress.burn_reminder_for_pass(olga.account_id, now=moment)
        assert due is not None and due[0] == 300
        assert abs(due[1] - expires_at) < timedelta(seconds=5)

    mails = smtp_sink.to("olga@example.ru")
    assert [m["Subject"] for m in mails] == [f"300\u00a0баллов сгорят {expiry.date_ru(day)}"] * 2
    # No marketing-email consent, no email (the pass still shows the reminder).
    assert smtp_sink.to("ivan@example.ru") == []

    assert await ledger.expire_due(now=expires_at - timedelta(seconds=1)) == 0
    assert await ledger.expire_due(now=expires_at + timedelta(seconds=1)) == 2
    me = await shop.me(olga)
    assert me["balance"] == 0
    history = (await client.get("/api/v1/me/history", headers=olga.headers)).json()["items"]
    assert history[0]["kind"] == "expire" and history[0]["points"] == -300
    assert await progress.burn_reminder_for_pass(olga.account_id, now=expires_at) is None


async def test_a_batch_first_seen_five_days_ahead_gets_only_the_seven_day_reminder(client):
    shop = await Shop.open(client)
    olga = await shop.enrol("Ольга Петрова")
    await shop.give_points(olga.account_id, 120)
    expires_at = clock.add_months(clock.now(), 6)
    moment = expires_at - timedelta(days=5)
    assert await expiry.send_reminders(now=moment) == 1
    assert await expiry.send_reminders(now=moment + timedelta(days=1)) == 0
