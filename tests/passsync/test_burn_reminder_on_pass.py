"""A burn reminder reaches the pass: a field whose text is the lock-screen alert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.passsync.conftest import Phone, download_pass, read_pkpass
from tests.support.shop import Shop
from wallet import clock, settings
from wallet.ledger import service as ledger
from wallet.offers import expiry
from wallet.platform import worker


def _back(card_json: dict[str, Any], key: str) -> dict[str, Any]:
    [field] = [f for f in card_json["storeCard"]["backFields"] if f["key"] == key]
    return field


async def test_the_reminder_appears_on_the_pass_with_its_alert_in_the_shoppers_language(
    client, wallets
):
    shop = await Shop.open(client)
    olga = await shop.enrol("Ольга Петрова")
    jane = await shop.enrol("Jane Doe", language="en")
    phones = {}
    for n, shopper in enumerate((olga, jane)):
        await shop.give_points(shopper.account_id, 301 if shopper is olga else 1)
        card = await download_pass(shop, shopper)
        assert _back(card.json, "burn_notice")["value"] == "value.no_message"  # shows as " "
        assert "changeMessage" not in _back(card.json, "burn_notice")
        phone = Phone(client, device_id=f"{n}" * 32, push_token=f"{n}b" * 32)
        assert (await phone.register(card)).status_code == 201
        phones[shopper.account_id] = (phone, card)
    await worker.run_until_idle()
    wallets.apns.pushes.clear()

    expires_at = clock.add_months(clock.now(), 6)
    day = (expires_at - timedelta(microseconds=1)).astimezone(settings.get().tz).date()
    moment = expires_at - timedelta(days=7) + timedelta(hours=1)
    assert await expiry.send_reminders(now=moment) == 2
    await worker.run_until_idle()

    texts = {
        olga.account_id: f"301\u00a0балл сгорит {expiry.date_ru(day)}",
        jane.account_id: f"1\u00a0point expires on {day.day} {day.strftime('%B')} {day.year}",
    }
    for account_id, (phone, card) in phones.items():
        assert len(wallets.apns.to(phone.push_token)) == 1
        fresh = read_pkpass((await phone.fetch(card)).content)
        field = _back(fresh.json, "burn_notice")
        assert field["value"] == texts[account_id]
        assert field["changeMessage"] == "%@"

    # A second run sends no reminder and the passes stay as they are.
    assert await expiry.send_reminders(now=moment) == 0
    await worker.run_until_idle()
    assert len(wallets.apns.pushes) == 2

    # Once the points burn, the reminder leaves the pass without an alert.
    assert await ledger.expire_due(now=expires_at + timedelta(seconds=1)) == 2
    await worker.run_until_idle(now=expires_at + timedelta(seconds=1))
    phone, card = phones[olga.account_id]
    assert len(wallets.apns.to(phone.push_token)) == 2
