"""Edge cases of the cashback month: a kopeck short, the cap exactly, the last day of the
month in the program's zone, a shopper who owes points, offers that would overlap."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import timedelta
from urllib.parse import urlsplit

from tests.offers.support import (
    consenting,
    in_this_month,
    last_day,
    local,
    make_offer,
    month_parts,
    opt_in,
    this_month,
)
from tests.support.shop import Shop, bearer, iso, line, make_key
from wallet import clock, db, settings
from wallet.offers import service, settlement
from wallet.platform import worker


async def test_a_kopeck_short_pays_nothing_and_the_cap_is_paid_exactly(client, smtp_sink):
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    short = await shop.enrol("Анна Краткая", **consenting("short@example.ru"))
    exact = await shop.enrol("Борис Точный", **consenting("exact@example.ru"))
    for shopper in (short, exact):
        shown = await opt_in(shop, shopper, offer["id"])
        # No history: the offer's starting goal.
        assert shown["goal_kopecks"] == 500_000
        assert shown["explanation"]["method"] == "no_history"
    await shop.receipt(short.card, "A1", [line(499_999)], at=in_this_month())
    await shop.receipt(exact.card, "B1", [line(5_000_000)], at=in_this_month())
    shown = await client.get(f"/api/v1/me/offers/{offer['id']}/progress", headers=exact.headers)
    assert shown.json()["reward_if_ended_now"] == 1000 and shown.json()["cap_applies"] is False

    before = (await shop.me(exact))["balance"]
    _start, end = service.month_bounds(this_month())
    report = await settlement.settle_month(this_month(), now=end + timedelta(days=3))
    assert (report.reached, report.missed, report.points) == (1, 1, 1000)
    assert (await shop.me(exact))["balance"] == before + 1000
    await worker.run_until_idle(now=end + timedelta(days=3))
    [missed] = smtp_sink.to("short@example.ru")
    assert "0,01\u00a0₽" in missed["Subject"]
    [reached] = smtp_sink.to("exact@example.ru")
    assert "1\u00a0000\u00a0баллов" in reached["Subject"]


async def test_opt_in_on_the_last_day_counts_the_whole_month_up_to_2330_local(client):
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    anna = await shop.enrol("Анна Поздняя")
    previous = service.shift_month(this_month(), -1)
    year, month = month_parts(previous)
    last = last_day(previous)
    await shop.receipt(anna.card, "EARLY", [line(100_000)], at=local(year, month, 2))
    async with db.write_transaction():
        shown = await service.opt_in(
            offer["id"], account_id=anna.account_id, now=local(year, month, last, 20)
        )
    assert shown.month == previous and shown.spent_kopecks == 100_000
    assert shown.days_left == 1
    # 23:30 Moscow time on the last day is still this month; 00:30 on the 1st is the next.
    await shop.receipt(anna.card, "LATE", [line(200_000)], at=local(year, month, last, 23, 30))
    first_next = local(*month_parts(this_month()), 1, 0, 30)
    if first_next < clock.now():
        await shop.receipt(anna.card, "NEXT", [line(400_000)], at=first_next)
    then = await service.progress(
        offer["id"], account_id=anna.account_id, now=local(year, month, last, 23, 59)
    )
    assert then.spent_kopecks == 300_000 and then.month == previous
    report = await settlement.settle_month(previous, now=max(clock.now(), then.month_ends_at))
    assert report.settled == 1 and report.missed == 1
    if first_next < clock.now():
        # The offer renews: this month's goal opened at the first purchase of the month.
        now_shown = await service.progress(offer["id"], account_id=anna.account_id, now=clock.now())
        assert now_shown.month == this_month() and now_shown.spent_kopecks == 400_000


async def test_a_shopper_who_owes_points_is_credited_through_the_ledger_and_repays(client):
    shop = await Shop.open(client)
    offer = await make_offer(shop, categories=["grocery", "tobacco"])
    owes = await shop.enrol("Олег Должник")
    await opt_in(shop, owes, offer["id"])
    await shop.receipt(owes.card, "R1", [line(600_000)], at=in_this_month())
    await shop.receipt(owes.card, "R2", [line(40_000)], redeem=300, at=in_this_month())
    reply = await client.post(
        "/api/v1/pos/receipts/R1/returns",
        json={"return_id": "RET-R1", "occurred_at": iso(clock.now())},
        headers=bearer(shop.pos_key),
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["debt_after"] == 295
    await shop.receipt(owes.card, "R4", [line(600_000, "tobacco")], at=in_this_month())
    _start, end = service.month_bounds(this_month())
    report = await settlement.settle_month(this_month(), now=end + timedelta(days=3))
    # 10,000 kopecks paid on R2 + 600,000 on tobacco = 6,100 ₽; 2% = 122 points.
    assert report.points == 122
    me = await shop.me(owes)
    assert me["debt"] == 295 - 122 and me["balance"] == 0


async def test_marketer_manages_offers_and_shoppers_hold_one_offer_a_month(client):
    shop = await Shop.open(client)
    marketer = await make_key("marketer")
    first = await make_offer(shop)
    gold = await make_offer(shop, name="Только для золотых", eligible_tiers=["Золотой"])
    assert gold["overlaps_with"] == [first["id"]]
    listed = await client.get("/api/v1/admin/offers", headers=bearer(marketer))
    assert [o["id"] for o in listed.json()] == [first["id"], gold["id"]]
    refused = await client.get("/api/v1/admin/offers", headers=bearer(shop.pos_key))
    assert refused.status_code == 403

    anna = await shop.enrol("Анна")
    not_gold = await opt_in(shop, anna, gold["id"], expect=422)
    assert not_gold["code"] == "offer_not_available" and "Базовый" in not_gold["message"]
    await opt_in(shop, anna, first["id"])
    third = await make_offer(shop, name="Ещё одно")
    overlap = await opt_in(shop, anna, third["id"], expect=409)
    assert overlap["code"] == "offer_overlap"

    changed = await client.patch(
        f"/api/v1/admin/offers/{first['id']}",
        json={"cap_points": 500, "goal": {"uplift_percent": 20}},
        headers=bearer(marketer),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["cap_points"] == 500 and changed.json()["goal"]["uplift_percent"] == 20
    ended = await client.post(f"/api/v1/admin/offers/{third['id']}/end", headers=bearer(marketer))
    assert ended.json()["status"] == "ended"
    boris = await shop.enrol("Борис")
    assert (await opt_in(shop, boris, third["id"], expect=422))["code"] == "offer_not_available"
    mine = (await client.get("/api/v1/me/offers", headers=boris.headers)).json()["offers"]
    assert {o["offer"]["id"] for o in mine} == {first["id"], gold["id"]}


async def test_settlement_updates_the_passes_of_shoppers_who_have_one_and_queues_none_for_others(
    client,
):
    # Wallet accepts a plain-http webServiceURL only for localhost.
    settings.override(dataclasses.replace(settings.get(), base_url="http://localhost"))
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    holder = await shop.enrol("Вера С Карточкой")
    plain = await shop.enrol("Глеб Без Карточки")
    for shopper in (holder, plain):
        await opt_in(shop, shopper, offer["id"])
        await shop.receipt(
            shopper.card, f"P-{shopper.account_id}", [line(5_000_000)], at=in_this_month()
        )
    link = urlsplit((await shop.me(holder))["links"]["apple_pass"])
    before = await client.get(f"{link.path}?{link.query}")
    assert before.status_code == 200, before.text
    _start, end = service.month_bounds(this_month())
    settle_at = end + timedelta(days=3)
    # Whatever the receipts queued is done before the month is settled.
    await worker.run_until_idle(now=clock.now())

    report = await settlement.settle_month(this_month(), now=settle_at)
    assert report.reached == 2
    # The settlement writes no job per account: its pass-update job rebuilds the passes of
    # the accounts that have one, a batch at a time.
    queued = await db.raw(
        "SELECT kind, COUNT(*) AS n FROM outbox_job WHERE status = 'pending' "
        "AND kind IN ('pass_update', 'offers.pass_updates') GROUP BY kind"
    )
    found = {row["kind"]: int(row["n"]) for row in queued}
    # One per account range that was settled (PostgreSQL settles ranges side by side).
    assert set(found) == {"offers.pass_updates"} and found["offers.pass_updates"] >= 1
    await worker.run_until_idle(now=settle_at)
    after = await client.get(f"{link.path}?{link.query}")
    assert after.status_code == 200, after.text
    # What the pass shows (pass.json, not the signature) changed: the new balance.
    shown = [
        zipfile.ZipFile(io.BytesIO(reply.content)).read("pass.json") for reply in (before, after)
    ]
    assert shown[0] != shown[1]
    assert (await shop.me(holder))["balance"] == (await shop.me(plain))["balance"]
