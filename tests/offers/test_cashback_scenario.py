"""The flagship offer end to end: history, opt-in, progress across two cards, a return,
month-end settlement, spending, burn reminders and expiry; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests.offers.support import (
    add_family_card,
    consenting,
    in_this_month,
    make_offer,
    mid_month,
    opt_in,
    progress,
    this_month,
)
from tests.support.shop import Shop, bearer, iso, line
from wallet import clock
from wallet.ledger import service as ledger
from wallet.offers import progress as offers_progress
from wallet.offers import service, settlement
from wallet.platform import worker


async def test_shopper_reaches_goal_across_two_cards_and_gets_capped_cashback_once(
    client, smtp_sink
):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова", **consenting("anna@example.ru"))
    family = await add_family_card(shop, anna)
    month = this_month()
    history = [service.shift_month(month, -back) for back in (3, 2, 1)]
    # Three months of history: 10,000 ₽, 12,000 ₽ (8,000 on Anna's card, 4,000 on the
    # family card) and 11,000 ₽; alcohol does not count towards this offer.
    await shop.receipt(anna.card, "H1", [line(1_000_000)], at=mid_month(history[0]))
    await shop.receipt(anna.card, "H2", [line(800_000)], at=mid_month(history[1]))
    await shop.receipt(family, "H3", [line(400_000, "household")], at=mid_month(history[1], 16))
    await shop.receipt(
        anna.card, "H4", [line(1_100_000), line(300_000, "alcohol")], at=mid_month(history[2])
    )
    offer = await make_offer(shop)

    shown = await opt_in(shop, anna, offer["id"])
    # median of 10,000 / 12,000 / 11,000 ₽ is 11,000 ₽; +10% = 12,100 ₽; step 100 ₽.
    assert shown["goal_kopecks"] == 1_210_000
    assert shown["spent_kopecks"] == 0 and shown["month"] == month
    explanation = shown["explanation"]
    assert explanation["method"] == "median_month_plus_uplift"
    assert [m["spent_kopecks"] for m in explanation["months"]] == [1_000_000, 1_200_000, 1_100_000]
    assert {c["card_number"]: c["spent_kopecks"] for c in explanation["by_card"]} == {
        anna.card: 2_900_000,
        family: 400_000,
    }
    assert family in explanation["text"]
    again = await opt_in(shop, anna, offer["id"])
    assert again["goal_kopecks"] == shown["goal_kopecks"]

    listed = (await client.get("/api/v1/me/offers", headers=anna.headers)).json()["offers"]
    assert [(o["offer"]["id"], o["opted_in"], o["goal_kopecks"]) for o in listed] == [
        (offer["id"], True, 1_210_000)
    ]

    # This month: both cards count towards one goal.
    at = in_this_month()
    await shop.receipt(anna.card, "M1", [line(700_000), line(50_000, "alcohol")], at=at)
    await shop.receipt(family, "M2", [line(600_000, "household")], at=at)
    now_progress = await progress(shop, anna, offer["id"])
    assert now_progress["spent_kopecks"] == 1_300_000
    assert now_progress["reached"] is True and now_progress["percent"] == 100
    assert now_progress["reward_if_ended_now"] == 260
    assert now_progress["days_left"] >= 1

    # A return lowers progress below the goal.
    returned = await client.post(
        "/api/v1/pos/receipts/M2/returns",
        json={
            "return_id": "RET1",
            "occurred_at": iso(clock.now()),
            "lines": [{"line": 1, "amount": 100_000}],
        },
        headers=bearer(shop.pos_key),
    )
    assert returned.status_code == 201, returned.text
    now_progress = await progress(shop, anna, offer["id"])
    assert now_progress["spent_kopecks"] == 1_200_000
    assert now_progress["remaining_kopecks"] == 10_000 and now_progress["reached"] is False
    assert now_progress["reward_if_ended_now"] == 0

    # A big basket: 2% of 62,000 ₽ is 1,240 points, capped at 1,000.
    await shop.receipt(anna.card, "M3", [line(5_000_000)], at=in_this_month())
    now_progress = await progress(shop, anna, offer["id"])
    assert now_progress["spent_kopecks"] == 6_200_000
    assert now_progress["reward_if_ended_now"] == 1000 and now_progress["cap_applies"] is True
    pass_goal = await offers_progress.goal_progress_for_pass(anna.account_id, now=clock.now())
    assert pass_goal is not None and pass_goal.spent_kopecks == 6_200_000
    assert pass_goal.reward_points == 1000

    balance_before = (await shop.me(anna))["balance"]
    _start, end = service.month_bounds(month)
    settle_at = end + timedelta(days=3)
    report = await settlement.settle_month(month, now=settle_at)
    assert (report.settled, report.reached, report.points) == (1, 1, 1000)
    rerun = await settlement.settle_month(month, now=settle_at + timedelta(hours=1))
    assert rerun.settled == 0 and rerun.points == 0
    assert (await shop.me(anna))["balance"] == balance_before + 1000
    settled = await progress(shop, anna, offer["id"])
    assert settled["status"] == "settled" and settled["outcome"] == "reached"

    # The outcome email goes out once, to the shopper who consented.
    await worker.run_until_idle(now=settle_at)
    reached = [
        m for m in smtp_sink.to("anna@example.ru") if "1\u00a0000\u00a0баллов" in m["Subject"]
    ]
    assert len(reached) == 1, [m["Subject"] for m in smtp_sink.messages]

    # The points are spendable at the till.
    spent = await shop.receipt(anna.card, "S1", [line(200_000)], redeem=1000)
    assert spent["redeemed_points"] == 1000

    expires_at = clock.add_months(settle_at, 6)
    # Six months later the cashback lot's date passes and whatever is left expires.
    changed = await ledger.expire_due(now=expires_at + timedelta(seconds=1))
    assert changed >= 1
    assert (await shop.me(anna))["balance"] == 0
