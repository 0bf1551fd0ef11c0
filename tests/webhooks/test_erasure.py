"""Erasing a shopper (152-FZ) erases what the webhook deliveries say about them, on SQLite
and PostgreSQL, with a loopback receiver that checks every signature: the bodies go (ids,
card numbers), what was delivered stays in the log as delivered, what waited is never sent
(``erased``) while other shoppers' events go on, and nothing erased can be replayed."""

from __future__ import annotations

from datetime import timedelta

from tests.privacy.test_data_rights import member_id_of
from tests.support.shop import Shop, bearer, line
from tests.webhooks.test_webhooks import PATH, Clock, log, register
from wallet import clock, db
from wallet.members import service as members
from wallet.platform import worker
from wallet.privacy import service as privacy
from wallet.webhooks import jobs

EVENTS = ["member.joined", "card.issued", "receipt.posted", "points.changed"]


async def test_erasing_a_shopper_erases_their_deliveries_and_never_sends_the_waiting_ones(
    client, receiver, monkeypatch
):
    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver, EVENTS)
    anna = await shop.enrol("Анна Смирнова")
    boris = await shop.enrol("Борис Петров")
    await shop.receipt(anna.card, "A-1", [line(100_000)])
    await worker.run_until_idle()
    delivered = await log(shop, webhook_id)
    assert {d["status"] for d in delivered} == {"delivered"}
    anna_delivered = [d for d in delivered if d["account_id"] == anna.account_id]
    assert len(anna_delivered) == 4  # joined, card, receipt, points

    receiver.stop()  # the CRM is down while both shoppers buy
    await shop.receipt(anna.card, "A-2", [line(200_000)])
    await shop.receipt(boris.card, "B-1", [line(300_000)])
    await worker.run_until_idle()
    waiting = await log(shop, webhook_id, status="pending")
    assert sorted(d["account_id"] for d in waiting) == sorted(
        [anna.account_id] * 2 + [boris.account_id] * 2
    )

    member_id = await member_id_of(client, anna)
    erased = await client.post(
        f"/api/v1/admin/members/{member_id}/erase",
        json={"reason": "письмо 17"},
        headers=bearer(shop.support_key),
    )
    assert erased.status_code == 200, erased.text

    # Nothing stored says who she was: no body of hers holds her card or member id.
    bodies = await db.fetch(
        "SELECT body FROM webhook_delivery WHERE account_id = $1", anna.account_id
    )
    assert len(bodies) == 6 and {row["body"] for row in bodies} == {""}
    every = " ".join(row["body"] for row in await db.fetch("SELECT body FROM webhook_delivery"))
    assert anna.card not in every and boris.card in every
    # The log keeps its counts: what went stays delivered, what waited is erased, unsent.
    after = {d["id"]: d for d in await log(shop, webhook_id)}
    assert all(after[d["id"]]["status"] == "delivered" for d in anna_delivered)
    hers = [d for d in waiting if d["account_id"] == anna.account_id]
    for d in hers:
        assert after[d["id"]]["status"] == "erased"
        assert "erased" in after[d["id"]]["last_error"]
    assert sorted(d["id"] for d in await log(shop, webhook_id, status="erased")) == sorted(
        d["id"] for d in hers
    )
    assert len(after) == 4 + 2 + 2 + 2  # joined and card for Boris, then the waiting four

    receiver.start()  # back: Boris's events go, Anna's never
    moved = Clock(monkeypatch)
    await moved.run(120)
    assert all(r.signature_ok for r in receiver.received)
    late = receiver.received[len(delivered) :]
    assert [r.body["data"]["account_id"] for r in late] == [boris.account_id] * 2
    assert {r.event_type for r in late} == {"receipt.posted", "points.changed"}
    assert {d["status"] for d in await log(shop, webhook_id, status="pending")} == set()

    # An erased body cannot be sent again, delivered or not.
    for d in (anna_delivered[0], hers[0]):
        refused = await client.post(
            f"{PATH}/{webhook_id}/deliveries/{d['id']}/replay", headers=bearer(shop.admin_key)
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "webhook_delivery_erased"

    # A second erase changes nothing; the erased deliveries leave the log with the old ones.
    again = await client.post(
        f"/api/v1/admin/members/{member_id}/erase",
        json={"reason": "письмо 17"},
        headers=bearer(shop.support_key),
    )
    assert again.status_code == 200 and again.json() == erased.json()
    moved.offset = timedelta(days=36)
    await jobs.prune({})
    assert await log(shop, webhook_id) == []


async def test_an_erased_shopper_is_announced_by_ids_only_once_and_after_the_outage(
    client, receiver, monkeypatch
):
    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver, [*EVENTS, "member.erased"])
    anna = await shop.enrol("Анна Смирнова", email="anna.erased@example.ru", phone="+79161234567")
    await worker.run_until_idle()
    receiver.stop()  # the CRM is down when she buys and when support erases her
    await shop.receipt(anna.card, "A-1", [line(100_000)])
    member_id = await member_id_of(client, anna)
    card = await members.find_card(anna.card)
    erased = await client.post(
        f"/api/v1/admin/members/{member_id}/erase",
        json={"reason": "письмо от Анны Смирновой"},
        headers=bearer(shop.support_key),
    )
    assert erased.status_code == 200, erased.text

    # Committed with the erase: the one delivery of hers still waiting, and nothing in it
    # says who she was.
    waiting = await log(shop, webhook_id, status="pending")
    assert [d["event_type"] for d in waiting] == ["member.erased"]
    rows = await db.fetch(
        "SELECT body FROM webhook_delivery WHERE account_id = $1 AND body <> ''",
        anna.account_id,
    )
    assert len(rows) == 1
    for personal in ("Анна", "Смирнов", "anna.erased", "9161234567", "письмо"):
        assert personal not in rows[0]["body"]

    receiver.start()
    moved = Clock(monkeypatch)
    await moved.run(120)
    told = [r for r in receiver.received if r.event_type == "member.erased"]
    assert len(told) == 1 and told[0].signature_ok
    assert told[0].body["data"] == {
        "member_id": member_id,
        "account_id": anna.account_id,
        "cards": [{"card_id": card.id, "card_number": anna.card}],
        "source": "support",
        "erased_at": erased.json()["erased_at"].replace("Z", "+00:00"),
    }
    # Her receipt and points, waiting behind the outage, were erased: never sent.
    assert [r.event_type for r in receiver.received] == [
        "member.joined",
        "card.issued",
        "member.erased",
    ]

    # A second erase tells nothing new.
    again = await client.post(
        f"/api/v1/admin/members/{member_id}/erase",
        json={"reason": "письмо 18"},
        headers=bearer(shop.support_key),
    )
    assert again.status_code == 200
    await moved.run(120)
    assert [r.event_type for r in receiver.received].count("member.erased") == 1


async def test_a_shopper_who_erases_themselves_is_announced_as_such(client, receiver):
    shop = await Shop.open(client)
    await register(shop, receiver, ["member.erased"])
    anna = await shop.enrol("Анна Смирнова")
    member_id = await member_id_of(client, anna)
    await privacy.erase(
        member_id, actor=f"shopper:{member_id}", source="shopper", reason="", now=clock.now()
    )
    await worker.run_until_idle()
    assert [(r.event_type, r.body["data"]["source"]) for r in receiver.received] == [
        ("member.erased", "shopper")
    ]
