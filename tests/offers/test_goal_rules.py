"""The rules of the monthly goal that a shopper reads and the accountant pays by: a month
that meets the goal exactly is reached, the goal is rounded up to its step and never below
its minimum. Each test fails if one of these rules is bent by a character."""

from __future__ import annotations

from datetime import timedelta

from tests.offers.support import (
    OFFER,
    in_this_month,
    make_offer,
    mid_month,
    opt_in,
    progress,
    this_month,
)
from tests.support.shop import Shop, line
from wallet import clock
from wallet.offers import progress as offers_progress
from wallet.offers import service, settlement


async def test_a_month_that_meets_the_goal_exactly_is_reached_shown_and_paid(client):
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    exact = await shop.enrol("Ирина Ровно")
    shown = await opt_in(shop, exact, offer["id"])
    assert shown["goal_kopecks"] == 500_000  # no history: the offer's starting goal
    await shop.receipt(exact.card, "EXACT", [line(500_000)], at=in_this_month())

    now = await progress(shop, exact, offer["id"])
    assert now["spent_kopecks"] == now["goal_kopecks"] == 500_000
    assert now["reached"] is True and now["remaining_kopecks"] == 0 and now["percent"] == 100
    # 2% of 5,000 ₽ at 1 ₽ a point.
    assert now["reward_if_ended_now"] == 100 and now["cap_applies"] is False
    on_pass = await offers_progress.goal_progress_for_pass(exact.account_id, now=clock.now())
    assert on_pass is not None and on_pass.reward_points == 100

    before = (await shop.me(exact))["balance"]
    _start, end = service.month_bounds(this_month())
    report = await settlement.settle_month(this_month(), now=end + timedelta(days=3))
    assert (report.settled, report.reached, report.missed, report.points) == (1, 1, 0, 100)
    assert (await shop.me(exact))["balance"] == before + 100
    settled = await progress(shop, exact, offer["id"])
    assert settled["outcome"] == "reached" and settled["reward_if_ended_now"] == 100


async def test_the_goal_is_rounded_up_to_its_step_after_the_uplift_is_rounded_up(client):
    shop = await Shop.open(client)
    stepped = await make_offer(shop)
    to_the_kopeck = await make_offer(
        shop,
        name="Цель до копейки",
        goal={**stepped["goal"], "rounding_step_kopecks": 1, "min_goal_kopecks": 0},
    )
    last_month = service.shift_month(this_month(), -1)
    anna = await shop.enrol("Анна Шагова")
    boris = await shop.enrol("Борис Копейкин")
    await shop.receipt(anna.card, "H-A", [line(1_234_500)], at=mid_month(last_month))
    await shop.receipt(boris.card, "H-B", [line(1_234_567)], at=mid_month(last_month))

    # 12,345 ₽ + 10% = 13,579.50 ₽, rounded up to the 100 ₽ step: 13,600 ₽.
    shown = await opt_in(shop, anna, stepped["id"])
    assert shown["goal_kopecks"] == 1_360_000
    assert shown["explanation"]["typical_kopecks"] == 1_234_500
    assert "13600 ₽" in shown["explanation"]["text"]
    # 12,345.67 ₽ + 10% = 13,580.237 ₽: the goal never asks less than the uplift, so the
    # fraction of a kopeck rounds up.
    shown = await opt_in(shop, boris, to_the_kopeck["id"])
    assert shown["goal_kopecks"] == 1_358_024


async def test_the_goal_is_never_below_the_offers_minimum_with_or_without_history(client):
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    low_start = await make_offer(
        shop, name="Низкий старт", goal={**offer["goal"], "no_history_goal_kopecks": 50_000}
    )
    last_month = service.shift_month(this_month(), -1)
    small = await shop.enrol("Семён Малый")
    await shop.receipt(small.card, "H-S", [line(10_000)], at=mid_month(last_month))
    new = await shop.enrol("Нина Новая")

    # 100 ₽ + 10% rounds up to 200 ₽, below the offer's minimum of 1,000 ₽.
    shown = await opt_in(shop, small, offer["id"])
    assert shown["goal_kopecks"] == 100_000
    explained = shown["explanation"]
    assert [m["spent_kopecks"] for m in explained["months"]] == [0, 0, 10_000]
    assert [(c["card_number"], c["role"]) for c in explained["by_card"]] == [(small.card, "main")]
    assert "raised to the minimum 1000 ₽" in shown["explanation"]["text"]
    # A starting goal below the minimum is raised to the minimum too.
    shown = await opt_in(shop, new, low_start["id"])
    assert shown["goal_kopecks"] == 100_000 and shown["explanation"]["method"] == "no_history"
    assert shown["explanation"]["typical_kopecks"] == 0

    # The raised goal is the one paid by: 999.99 ₽ misses it.
    await shop.receipt(small.card, "M-S", [line(99_999)], at=in_this_month())
    now = await progress(shop, small, offer["id"])
    assert now["reached"] is False and now["remaining_kopecks"] == 1
    _start, end = service.month_bounds(this_month())
    report = await settlement.settle_month(this_month(), now=end + timedelta(days=3))
    assert (report.reached, report.missed, report.points) == (0, 2, 0)


async def test_a_month_of_a_single_kopeck_is_the_first_month_of_history(client):
    shop = await Shop.open(client)
    offer = await make_offer(shop, goal={**OFFER["goal"], "min_goal_kopecks": 0})
    shopper = await shop.enrol("Карл Копеечный")
    three_ago, _two_ago, last = (service.shift_month(this_month(), -back) for back in (3, 2, 1))
    await shop.receipt(shopper.card, "H-1", [line(1)], at=mid_month(three_ago))
    await shop.receipt(shopper.card, "H-2", [line(1_000_000)], at=mid_month(last))

    # From the month of the first purchase on: 0.01 ₽, 0 ₽ and 10,000 ₽, median 0.01 ₽,
    # which rounds up to one 100 ₽ step.
    shown = await opt_in(shop, shopper, offer["id"])
    assert shown["explanation"]["typical_kopecks"] == 1
    assert shown["goal_kopecks"] == 10_000


async def test_the_median_of_an_even_number_of_months_is_the_middle_pair_halved_down(client):
    shop = await Shop.open(client)
    plain = {"lookback_months": 4, "uplift_percent": 0, "rounding_step_kopecks": 1}
    offer = await make_offer(shop, goal={**OFFER["goal"], **plain, "min_goal_kopecks": 0})
    months = [service.shift_month(this_month(), -back) for back in (4, 3, 2, 1)]
    steady = await shop.enrol("Вера Ровная")
    for index, amount in enumerate((10_000, 20_001, 30_000, 40_000)):
        await shop.receipt(steady.card, f"S-{index}", [line(amount)], at=mid_month(months[index]))
    gaps = await shop.enrol("Гоша Пропусков")
    await shop.receipt(gaps.card, "G-1", [line(100_001)], at=mid_month(months[0]))
    await shop.receipt(gaps.card, "G-4", [line(300_000)], at=mid_month(months[3]))

    # (200.01 ₽ + 300 ₽) / 2 = 250.005 ₽, a kopeck's fraction dropped.
    shown = await opt_in(shop, steady, offer["id"])
    assert (shown["explanation"]["typical_kopecks"], shown["goal_kopecks"]) == (25_000, 25_000)
    # Months without spend after the first purchase count as 0 ₽: 0, 0, 1,000.01, 3,000 ₽.
    shown = await opt_in(shop, gaps, offer["id"])
    assert (shown["explanation"]["typical_kopecks"], shown["goal_kopecks"]) == (50_000, 50_000)


async def test_opting_in_mid_month_counts_only_the_offers_categories_already_bought(client):
    shop = await Shop.open(client)
    offer = await make_offer(shop)
    shopper = await shop.enrol("Полина Поздняя")
    at = in_this_month()
    await shop.receipt(shopper.card, "EARLY", [line(200_000), line(300_000, "alcohol")], at=at)

    shown = await opt_in(shop, shopper, offer["id"])
    assert shown["spent_kopecks"] == 200_000


async def test_an_offer_counting_from_opt_in_ignores_what_was_bought_before(client):
    shop = await Shop.open(client)
    offer = await make_offer(shop, counts_whole_month=False)
    shopper = await shop.enrol("Олег Сначала")
    await shop.receipt(shopper.card, "BEFORE", [line(200_000)], at=in_this_month())

    shown = await opt_in(shop, shopper, offer["id"])
    assert shown["spent_kopecks"] == 0
