"""Webhooks on SQLite and PostgreSQL, against a real HTTPS receiver on loopback that checks
every signature: an outage loses nothing and sends nothing twice, an account's events come
in order, private addresses are refused, and an endpoint that keeps failing is disabled
with an email to the admin, then enabled again and replayed."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from tests.support.shop import Shop, bearer, line
from tests.support.webhook_receiver import Receiver
from wallet import clock, db
from wallet import settings as settings_module
from wallet.platform import worker
from wallet.webhooks import delivery
from wallet.webhooks import service as webhooks

PATH = "/api/v1/admin/webhooks"
EVERYTHING = ["member.joined", "member.changed", "receipt.posted", "receipt.returned"]


class Clock:
    """The service's clock, moved forward by the test (retries wait 30 s, then longer)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = timedelta(0)
        real = clock.now
        monkeypatch.setattr(clock, "now", lambda: real() + self.offset)

    async def run(self, seconds: float = 0) -> None:
        self.offset += timedelta(seconds=seconds)
        await worker.run_until_idle(now=clock.now())


async def register(shop: Shop, receiver: Receiver, events: list[str] | None = None) -> int:
    reply = await shop.client.post(
        PATH,
        json={"url": receiver.url, "events": events or EVERYTHING},
        headers=bearer(shop.admin_key),
    )
    assert reply.status_code == 201, reply.text
    receiver.secret = reply.json()["secret"]
    assert receiver.secret.startswith("whsec_")
    return int(reply.json()["webhook"]["id"])


async def log(shop: Shop, webhook_id: int, **params: Any) -> list[dict[str, Any]]:
    reply = await shop.client.get(
        f"{PATH}/{webhook_id}/deliveries", params=params, headers=bearer(shop.admin_key)
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_an_outage_loses_nothing_and_sends_each_event_once_in_account_order(
    client, receiver, monkeypatch
):
    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver)
    moved = Clock(monkeypatch)
    receiver.stop()  # the CRM goes down before anything happens

    anna = await shop.enrol("Анна Смирнова")
    boris = await shop.enrol("Борис Петров")
    for n in range(3):
        await shop.receipt(anna.card, f"A-{n}", [line(100_000 + n)])
        await shop.receipt(boris.card, f"B-{n}", [line(200_000 + n)])
    await moved.run()
    await moved.run(40)  # the first retry finds it still down
    assert receiver.received == []
    waiting = await log(shop, webhook_id, status="pending")
    assert len(waiting) == 8 and all(d["last_error"] for d in waiting if d["attempts"])

    receiver.start()  # back, on the same port
    for _ in range(6):
        await moved.run(120)

    got = receiver.received
    assert all(r.signature_ok for r in got)
    ids = [r.event_id for r in got]
    assert len(ids) == len(set(ids)) == 8  # nothing lost, nothing twice
    for who, totals in ((anna, [100_000, 100_001, 100_002]), (boris, [200_000, 200_001, 200_002])):
        mine = [r for r in got if r.body["data"]["account_id"] == who.account_id]
        assert [r.event_type for r in mine] == ["member.joined"] + ["receipt.posted"] * 3
        assert [r.body["data"]["total_kopecks"] for r in mine[1:]] == totals
    assert {d["status"] for d in await log(shop, webhook_id)} == {"delivered"}
    assert all(r.body["id"] == r.event_id for r in got)


async def test_only_the_events_asked_for_are_sent_and_a_refused_receipt_sends_nothing(
    client, receiver
):
    shop = await Shop.open(client)
    await register(shop, receiver, ["receipt.posted"])
    anna = await shop.enrol("Анна Смирнова")
    await shop.receipt(anna.card, "A-1", [line(50_000)])
    await shop.receipt("0000000000000000", "A-2", [line(50_000)], expect=404)
    # An event whose transaction rolls back leaves no delivery behind.
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            await webhooks.publish(
                event_type="receipt.posted",
                account_id=anna.account_id,
                data={"total_kopecks": 1},
                now=clock.now(),
            )
            raise RuntimeError("the till's write failed after the event")
    await worker.run_until_idle()
    assert [(r.event_type, r.body["data"]["total_kopecks"]) for r in receiver.received] == [
        ("receipt.posted", 50_000)
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.ru/hooks",
        "https://10.0.0.5/hooks",
        "https://192.168.1.10:8443/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://0.0.0.0/hooks",
        "https://user:pw@crm.example.ru/hooks",
        "ftp://crm.example.ru/hooks",
    ],
)
async def test_a_url_that_is_not_https_or_not_public_is_refused_and_nothing_written(client, url):
    shop = await Shop.open(client)
    reply = await client.post(
        PATH, json={"url": url, "events": ["receipt.posted"]}, headers=bearer(shop.admin_key)
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] == "webhook_url_refused"
    listed = await client.get(PATH, headers=bearer(shop.admin_key))
    assert listed.json() == []


async def test_a_host_that_turns_private_after_registration_is_not_called(client, receiver):
    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver)
    # As if the name now resolved to the chain's network: loopback is private again.
    settings_module.override(
        dataclasses.replace(settings_module.get(), webhooks_allow_private=False)
    )
    await shop.enrol("Анна Смирнова")
    await worker.run_until_idle()
    assert receiver.received == []
    [delivery] = await log(shop, webhook_id)
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["last_error"].startswith("address refused")


async def test_an_endpoint_failing_long_enough_is_disabled_with_an_email_then_enabled_and_replayed(
    client, smtp_sink, receiver, monkeypatch
):
    settings_module.override(
        dataclasses.replace(
            settings_module.get(),
            webhooks_disable_failures=3,
            webhooks_disable_seconds=60,
            webhooks_admin_email="it@shop.example.ru",
        )
    )
    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver)
    moved = Clock(monkeypatch)
    receiver.answer = 500
    await shop.enrol("Анна Смирнова")
    await moved.run()
    await moved.run(31)
    hook = (await client.get(f"{PATH}/{webhook_id}", headers=bearer(shop.admin_key))).json()
    assert hook["status"] == "active" and hook["failures"] == 2  # 2 failures, 31 s: not yet
    await moved.run(61)
    hook = (await client.get(f"{PATH}/{webhook_id}", headers=bearer(shop.admin_key))).json()
    assert hook["status"] == "disabled" and hook["failures"] == 3
    assert "HTTP 500" in hook["disabled_reason"]
    await moved.run(1)  # the email, queued as it was disabled
    [mail] = smtp_sink.to("it@shop.example.ru")
    assert f"Вебхук {webhook_id} отключён" in str(mail["Subject"])
    assert receiver.url in mail.get_body(preferencelist=("plain",)).get_content()

    await moved.run(3600)  # disabled: nothing is tried, nothing is lost
    [waiting] = await log(shop, webhook_id)
    assert waiting["status"] == "pending" and waiting["attempts"] == 3

    receiver.answer = 200
    enabled = await client.post(f"{PATH}/{webhook_id}/enable", headers=bearer(shop.admin_key))
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    await moved.run()
    [first] = receiver.received
    assert first.event_type == "member.joined" and first.signature_ok

    replay = await client.post(
        f"{PATH}/{webhook_id}/deliveries/{waiting['id']}/replay", headers=bearer(shop.admin_key)
    )
    assert replay.status_code == 202, replay.text
    assert replay.json()["replay_of"] == waiting["id"]
    await moved.run()
    assert [r.event_id for r in receiver.received] == [first.event_id, first.event_id]
    missing = await client.post(
        f"{PATH}/{webhook_id}/deliveries/999999/replay", headers=bearer(shop.admin_key)
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "webhook_delivery_not_found"


async def test_the_secret_is_shown_once_and_stored_encrypted(client, receiver):
    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver)
    shown = (await client.get(f"{PATH}/{webhook_id}", headers=bearer(shop.admin_key))).text
    assert receiver.secret not in shown and "secret" not in shown
    [row] = await db.fetch("SELECT secret FROM webhook_endpoint WHERE id = $1", webhook_id)
    assert receiver.secret not in row["secret"]
    for role in ("support_key", "pos_key"):
        refused = await client.get(PATH, headers=bearer(getattr(shop, role)))
        assert refused.status_code == 403


async def test_cards_consents_and_points_are_told_as_they_happen(client, receiver):
    shop = await Shop.open(client)
    await register(
        shop, receiver, ["card.issued", "card.blocked", "consent.changed", "points.changed"]
    )
    anna = await shop.enrol("Анна Смирнова")
    await shop.receipt(anna.card, "A-1", [line(100_000)])
    opted = await client.patch(
        "/api/v1/me", json={"marketing_email": True, "marketing_push": None}, headers=anna.headers
    )
    assert opted.status_code == 200, opted.text
    blocked = await client.post(
        f"/api/v1/admin/cards/{anna.card}/block",
        json={"reason": "потеряна"},
        headers=bearer(shop.support_key),
    )
    assert blocked.status_code == 200, blocked.text
    await worker.run_until_idle()

    got = [(r.event_type, r.body["data"]) for r in receiver.received]
    assert all(r.signature_ok for r in receiver.received)
    kinds = [kind for kind, _ in got]
    assert kinds[0] == "card.issued" and kinds[-1] == "card.blocked"
    assert got[0][1]["card_number"] == anna.card and got[-1][1]["card_number"] == anna.card
    [consent] = [data for kind, data in got if kind == "consent.changed"]
    assert consent["consent"] == "marketing_email" and consent["value"] is True
    points = [data for kind, data in got if kind == "points.changed"]
    me = await shop.me(anna)
    assert points and points[-1]["balance"] + points[-1]["pending"] == me["balance"] + me.get(
        "pending", 0
    )
    assert (
        sum(p["balance_change"] + p["pending_change"] for p in points)
        == points[-1]["balance"] + points[-1]["pending"]
    )


async def test_a_personal_coupon_issued_and_a_coupon_used_are_told(client, receiver):
    from tests.promotions.test_coupons_api import COUPON_DEAL, coupons, receipt_with
    from tests.promotions.test_promotions_api import promo, seed

    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    anna = await shop.enrol("Анна Смирнова")
    await register(shop, receiver, ["coupon.issued", "coupon.used"])
    personal = await coupons(shop, deal["id"], {"account_ids": [anna.account_id]})
    shared = await coupons(shop, deal["id"], {"code": "KOFE2026"})
    used = await receipt_with(shop, anna.card, "C-1", ["KOFE2026"])
    assert used["discount_kopecks"] == 2_000
    await worker.run_until_idle()

    got = [(r.event_type, r.body["data"]) for r in receiver.received]
    assert [kind for kind, _ in got] == ["coupon.issued", "coupon.used"]
    assert got[0][1] | {"batch_id": personal["id"]} == got[0][1]
    assert got[0][1]["account_id"] == anna.account_id
    assert got[1][1]["batch_id"] == shared["id"] and got[1][1]["account_id"] == anna.account_id
    assert got[1][1]["promotion_id"] == deal["id"]


async def test_a_receipt_that_moves_the_tier_tells_the_tier_change(client, receiver):
    from tests.receipts.test_tier_benefits import gold_program

    shop = await Shop.open(client)
    await gold_program(shop)
    anna = await shop.enrol("Анна Смирнова")
    await register(shop, receiver, ["tier.changed"])
    await shop.receipt(anna.card, "SMALL", [line(100_000)])  # 1,000 ₽: still the base tier
    await shop.receipt(anna.card, "BIG", [line(2_000_000)])  # 21,000 ₽ in all: gold
    await worker.run_until_idle()
    [told] = receiver.received
    assert told.event_type == "tier.changed" and told.signature_ok
    assert told.body["data"] == {
        "account_id": anna.account_id,
        "tier_before": "Базовый",
        "tier": "Золотой",
        "lifetime_spend_kopecks": 2_100_000,
    }


async def test_a_settled_cashback_month_is_told_once(client, receiver):
    from tests.offers.support import in_this_month, make_offer, mid_month, opt_in, this_month
    from wallet.offers import service as offers
    from wallet.offers import settlement

    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова")
    month = this_month()
    for back in (3, 2, 1):
        earlier = offers.shift_month(month, -back)
        await shop.receipt(anna.card, f"H{back}", [line(1_000_000)], at=mid_month(earlier))
    offer = await make_offer(shop)
    await opt_in(shop, anna, offer["id"])
    await shop.receipt(anna.card, "M1", [line(5_000_000)], at=in_this_month())
    await register(shop, receiver, ["cashback.settled"])
    _start, end = offers.month_bounds(month)
    report = await settlement.settle_month(month, now=end + timedelta(days=3))
    assert report.reached == 1
    await worker.run_until_idle()
    await settlement.settle_month(month, now=end + timedelta(days=3, hours=1))  # a rerun
    await worker.run_until_idle()
    [told] = receiver.received
    assert told.event_type == "cashback.settled" and told.signature_ok
    data = told.body["data"]
    assert (data["account_id"], data["offer_id"], data["month"]) == (
        anna.account_id,
        offer["id"],
        month,
    )
    assert data["outcome"] == "reached" and data["reward_points"] == report.points


async def test_workers_racing_on_one_account_send_each_event_once_in_order(client, receiver):
    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver, ["receipt.posted"])
    anna = await shop.enrol("Анна Смирнова")
    for n in range(8):
        await shop.receipt(anna.card, f"R-{n}", [line(10_000 + n)])
    # Three workers at the same stream at once (on PostgreSQL truly side by side).
    await asyncio.gather(*(delivery.run_stream(webhook_id, anna.account_id) for _ in range(3)))
    await worker.run_until_idle()
    got = receiver.received
    assert [r.body["data"]["total_kopecks"] for r in got] == [10_000 + n for n in range(8)]
    assert len({r.event_id for r in got}) == 8


async def test_delivered_deliveries_are_forgotten_after_35_days_and_waiting_ones_kept(
    client, receiver, monkeypatch
):
    from wallet.webhooks import jobs

    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver, ["member.joined"])
    await shop.enrol("Анна Смирнова")
    await worker.run_until_idle()
    receiver.answer = 503
    await shop.enrol("Борис Петров")
    await worker.run_until_idle()
    assert sorted(d["status"] for d in await log(shop, webhook_id)) == ["delivered", "pending"]
    moved = Clock(monkeypatch)
    moved.offset = timedelta(days=36)
    await jobs.prune({})
    assert [d["status"] for d in await log(shop, webhook_id)] == ["pending"]


async def test_a_delivery_is_retried_with_backoff_for_24_hours_then_given_up_and_the_next_goes(
    client, receiver, monkeypatch
):
    settings_module.override(
        dataclasses.replace(settings_module.get(), webhooks_disable_failures=1_000)
    )
    shop = await Shop.open(client)
    webhook_id = await register(shop, receiver, ["receipt.posted"])
    anna = await shop.enrol("Анна Смирнова")
    moved = Clock(monkeypatch)
    receiver.answer = 500
    await shop.receipt(anna.card, "R-1", [line(10_000)])
    await moved.run()
    hours = 0
    while (first := (await log(shop, webhook_id))[-1])["status"] == "pending":
        await moved.run(3600)
        hours += 1
        assert hours <= 26
    assert first["status"] == "failed" and 23 <= hours <= 25
    # Retried every hour it was due (the waits grow from 30 s to an hour; this clock
    # jumps an hour at a time, so one try per jump), then given up 24 h after the event.
    assert 22 <= first["attempts"] <= 26 and first["last_status"] == 500
    receiver.answer = 200
    await shop.receipt(anna.card, "R-2", [line(20_000)])
    await moved.run()
    assert [r.body["data"]["total_kopecks"] for r in receiver.received] == [20_000]


def test_every_event_an_endpoint_can_ask_for_is_one_some_domain_publishes() -> None:
    # An event type offered but never wired would be a subscription that never fires.
    from wallet import wiring
    from wallet.webhooks.schemas import EVENT_TYPES

    assert sorted(name for name, _ in wiring.WEBHOOKS.values()) == sorted(EVENT_TYPES)
