"""A cashback offer's outcome month by month through the admin API, on both databases:
who opted in, reached and was paid, and their spend against their own look-back months and
against shoppers who bought before and did not opt in."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from tests.offers.support import in_this_month, make_offer, mid_month, opt_in, this_month
from tests.support.shop import Shop, bearer, line, make_key
from wallet.offers import service, settlement


async def test_the_opted_in_are_compared_with_their_own_past_and_with_the_others(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    offer = await make_offer(shop)
    month = this_month()
    anna, boris, clara, dima = [
        await shop.enrol(name) for name in ("Анна А", "Борис Б", "Клара К", "Дима Д")
    ]
    newcomer = await shop.enrol("Ева Новая")
    # The three months before: 1,000 ₽ a month each.
    for back in (1, 2, 3):
        past = service.shift_month(month, -back)
        for n, shopper in enumerate((anna, boris, clara, dima)):
            await shop.receipt(shopper.card, f"P{back}-{n}", [line(100_000)], at=mid_month(past))
    for shopper in (anna, boris):
        await opt_in(shop, shopper, offer["id"])
    # This month Anna spends twice her usual, Boris half; the others as usual.
    await shop.receipt(anna.card, "A", [line(200_000)], at=in_this_month())
    await shop.receipt(boris.card, "B", [line(50_000)], at=in_this_month())
    await shop.receipt(clara.card, "C", [line(100_000)], at=in_this_month())
    await shop.receipt(dima.card, "D", [line(100_000)], at=in_this_month())
    await shop.receipt(newcomer.card, "E", [line(900_000)], at=in_this_month())

    url = f"/api/v1/admin/reports/offers/{offer['id']}"
    before = await client.get(url, params={"from": month}, headers=bearer(key))
    assert before.status_code == 200, before.text
    [open_month] = before.json()["months"]
    assert (open_month["opted_in"], open_month["open"], open_month["points_paid"]) == (2, 2, 0)

    _start, end = service.month_bounds(month)
    settled = await settlement.settle_month(month, now=end + timedelta(days=3))
    assert (settled.reached, settled.missed) == (1, 1) and settled.points > 0
    reply = await client.get(url, headers=bearer(key))
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["lookback_months"] == 3 and len(report["months"]) == 12
    assert report["months"][-1]["month"] == month
    m = report["months"][-1]
    assert (m["opted_in"], m["reached"], m["missed"], m["open"]) == (2, 1, 1, 0)
    assert m["points_paid"] == settled.points
    # (2,000 + 500) / 2 this month against 1,000 ₽ a month before.
    assert (m["spend_per_shopper_kopecks"], m["lookback_per_shopper_kopecks"]) == (125_000, 100_000)
    # Clara and Dima bought before and did not opt in; the newcomer had nothing to compare.
    assert m["others"] == 2
    assert (
        m["others_spend_per_shopper_kopecks"] == m["others_lookback_per_shopper_kopecks"] == 100_000
    )
    assert m["uplift_per_shopper_kopecks"] == 25_000
    quiet = report["months"][-2]
    assert quiet["opted_in"] == 0 and quiet["uplift_per_shopper_kopecks"] is None

    file = await client.get(url, params={"format": "csv", "from": month}, headers=bearer(key))
    assert file.status_code == 200 and file.headers["content-type"].startswith("text/csv")
    header, row = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert row[header.index("Достигли цели")] == "1"
    assert row[header.index("Прирост участника сверх остальных, ₽")] == "250.00"

    page_url = f"/console/reports/offers/{offer['id']}"
    assert (await client.get(page_url)).status_code == 303
    client.cookies.set("wallet_console", key, path="/console")
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    assert "Результат кешбэка" in page.text and "<b>250,00\u00a0₽</b>" in page.text
    assert "<svg" in page.text and "<script" not in page.text
    assert (await client.get(page_url, params={"from": "май"})).status_code == 422
    assert (await client.get(page_url, params={"to": "2999-01"})).status_code == 422
    assert (await client.get(f"/console/reports/offers/{offer['id'] + 99}")).status_code == 404


async def test_unknown_offers_and_bad_months_are_refused(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    offer = await make_offer(shop)
    url = f"/api/v1/admin/reports/offers/{offer['id']}"
    month = this_month()
    missing = await client.get(
        f"/api/v1/admin/reports/offers/{offer['id'] + 99}", headers=bearer(key)
    )
    assert missing.status_code == 404 and missing.json()["code"] == "offer_not_found"
    for params, why in (
        ({"from": month, "to": service.shift_month(month, -1)}, "empty"),
        ({"from": service.shift_month(month, -24)}, "24 months"),
        ({"to": service.shift_month(month, 1)}, "future"),
    ):
        reply = await client.get(url, params=params, headers=bearer(key))
        assert reply.status_code == 422, (params, reply.text)
        assert why in reply.json()["message"]
    assert (
        await client.get(url, params={"from": "2026-13"}, headers=bearer(key))
    ).status_code == 400
    pos = await make_key("pos", "MSK-001")
    assert (await client.get(url, headers=bearer(pos))).status_code == 403
