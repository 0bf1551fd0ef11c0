"""One shopper or one marketer text that cannot become a message must not hold up, or
double, anybody else's mail; bad texts are refused at the door."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from tests.campaigns.test_campaigns import campaign, enrol, figures
from tests.support.shop import Shop, bearer, make_key
from wallet import clock, db
from wallet.platform import worker

POISON = "Eve\r\nBcc: evil@example.com"


async def test_a_poisoned_message_fails_alone_and_everyone_else_gets_one_copy(client, smtp_sink):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    yes = {"marketing_email": True}
    shoppers = [
        await enrol(shop, f"Покупатель {n}", f"q{n}@example.ru", consents=yes) for n in range(6)
    ]
    # An old row from before names were checked at enrolment.
    await db.raw("UPDATE member SET name = {} WHERE account = {}", POISON, shoppers[2].account_id)
    created = await campaign(client, key)
    await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    # Seventeen minutes of a worker retrying whatever is due.
    start = clock.now()
    for minute in range(0, 18):
        await worker.run_until_idle(now=start + timedelta(minutes=minute))

    copies = Counter(m["To"] for m in smtp_sink.messages)
    assert copies == {f"q{n}@example.ru": 1 for n in range(6) if n != 2}
    assert not any("evil@example.com" in str(m) for m in smtp_sink.messages)
    rows = await db.raw(
        "SELECT status, reason FROM delivery WHERE account_id = {}", shoppers[2].account_id
    )
    assert [row["status"] for row in rows] == ["failed"]
    assert rows[0]["reason"], "the failure says why"
    data = await figures(client, key, created["id"])
    assert data["status"] == "sent"
    assert data["figures"][0]["sent"] == 5 and data["figures"][0]["failed"] == 1
