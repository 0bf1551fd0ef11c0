"""The mail server away in the middle of an email campaign, then back: nobody gets the
email twice, nobody is left without it, and no delivery is marked failed for it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from tests.faults.conftest import Mailbox
from tests.support.shop import Shop, bearer, make_key
from wallet import clock
from wallet import settings as settings_module
from wallet.platform import worker

SHOPPERS = 20
CONSENTS = {
    "program": True,
    "personal_data": True,
    "terms_version": "2026-01",
    "marketing_email": True,
}


async def test_a_mail_server_down_then_back_gets_every_email_once(client, mailbox: Mailbox):
    settings_module.override(dataclasses.replace(settings_module.get(), enrol_limit_per_ip=0))
    shop = await Shop.open(client)
    key = await make_key("marketer")
    addresses = [f"smtp{n}@example.ru" for n in range(SHOPPERS)]
    for n, address in enumerate(addresses):
        await shop.enrol(f"Покупатель {n}", email=address, consents=CONSENTS)
    reply = await client.post(
        "/api/v1/admin/campaigns",
        json={"name": "Осень", "subject": "{{ name }}", "body": "Скидки."},
        headers=bearer(key),
    )
    campaign_id = reply.json()["id"]
    assert (
        await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    ).status_code == 200

    async def figures() -> dict:
        reply = await client.get(f"/api/v1/admin/campaigns/{campaign_id}", headers=bearer(key))
        return reply.json()  # type: ignore[no-any-return]

    # Down: the port is closed. The send job retries later; nothing is marked.
    mailbox.stop()
    now = clock.now()
    await worker.run_until_idle(now=now)
    assert mailbox.count() == 0
    [email] = (await figures())["figures"]
    assert email["pending"] == SHOPPERS and email["failed"] == 0

    # Back, then busy after 8 messages (450 to every recipient): the rest wait again.
    mailbox.start()
    mailbox.refuse_after = 8
    await worker.run_until_idle(now=now + timedelta(seconds=11))
    received = mailbox.count()  # sessions already past RCPT finish theirs
    assert 8 <= received < SHOPPERS
    [email] = (await figures())["figures"]
    assert email["sent"] == received and email["pending"] == SHOPPERS - received
    assert email["failed"] == 0

    # Back for good: everyone else, once.
    mailbox.up()
    await worker.run_until_idle(now=now + timedelta(seconds=30))
    assert sorted(mailbox.per_address().items()) == sorted((a, 1) for a in addresses)
    data = await figures()
    [email] = data["figures"]
    assert data["status"] == "sent"
    assert email["sent"] == SHOPPERS and email["failed"] == 0 and email["maybe_twice"] == 0
