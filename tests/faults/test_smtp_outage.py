"""The mail server away in the middle of an email campaign, then back: nobody gets the
email twice, nobody is left without it, and no delivery is marked failed for it."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from datetime import timedelta

from tests.faults.conftest import Mailbox, Workers
from tests.support.shop import Shop, bearer, make_key
from wallet import clock, db
from wallet import settings as settings_module
from wallet.platform import worker

SHOPPERS = 20
SMTP_OUTAGE_SECONDS = float(os.environ.get("WALLET_FAULT_SMTP_OUTAGE_SECONDS", "60"))
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


async def test_a_mail_server_down_for_a_minute_then_back_under_a_running_worker(
    client, mailbox: Mailbox, workers: Workers
):
    """The real ``wallet worker`` and real time: the mail server's port is closed for
    ``WALLET_FAULT_SMTP_OUTAGE_SECONDS`` (60 by default; a shorter run may set it) while
    the campaign is being sent, then opens again. Nobody is given up on during the minute,
    everyone gets the email once after it."""
    settings_module.override(dataclasses.replace(settings_module.get(), enrol_limit_per_ip=0))
    shop = await Shop.open(client)
    key = await make_key("marketer")
    addresses = [f"minute{n}@example.ru" for n in range(SHOPPERS)]
    for n, address in enumerate(addresses):
        await shop.enrol(f"Покупатель {n}", email=address, consents=CONSENTS)
    reply = await client.post(
        "/api/v1/admin/campaigns",
        json={"name": "Минута", "subject": "{{ name }}", "body": "Скидки."},
        headers=bearer(key),
    )
    campaign_id = reply.json()["id"]

    async def figures() -> dict:
        reply = await client.get(f"/api/v1/admin/campaigns/{campaign_id}", headers=bearer(key))
        return reply.json()  # type: ignore[no-any-return]

    mailbox.stop()
    workers.start()
    sent = await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    assert sent.status_code == 200, sent.text
    back_at = time.monotonic() + SMTP_OUTAGE_SECONDS
    while time.monotonic() < back_at:
        [email] = (await figures())["figures"]
        assert email["sent"] == 0 and email["failed"] == 0, email
        await asyncio.sleep(min(5, max(0.0, back_at - time.monotonic())))
    attempts = await db.fetch(
        "SELECT MAX(attempts) AS n FROM outbox_job WHERE kind = 'campaign_send'"
    )
    assert int(attempts[0]["n"]) >= 2, "the worker never tried during the outage"
    mailbox.start()

    deadline = time.monotonic() + 90
    while (data := await figures())["status"] != "sent" or mailbox.count() < SHOPPERS:
        assert time.monotonic() < deadline, (data, workers.log_of(0)[-2000:])
        await asyncio.sleep(0.5)
    assert sorted(mailbox.per_address().items()) == sorted((a, 1) for a in addresses)
    [email] = data["figures"]
    assert email["sent"] == SHOPPERS and email["failed"] == 0 and email["maybe_twice"] == 0
    dead = await db.fetch("SELECT kind, last_error FROM outbox_job WHERE status = 'dead'")
    assert dead == [], dead
    print(
        f"\nSMTP down {SMTP_OUTAGE_SECONDS:.0f} s under a running worker: "
        f"{SHOPPERS} emails, each delivered once after it came back"
    )
