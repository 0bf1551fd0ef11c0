"""Program health through the admin API on both databases: retention cohorts by join month
and activity by month, as the receipts made them."""

from __future__ import annotations

from tests.offers.support import in_this_month, mid_month, this_month
from tests.support.shop import Shop, bearer, line, make_key
from wallet import db
from wallet.offers import service


async def test_cohorts_count_who_bought_in_each_month_after_joining(client):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    month = this_month()
    early, late = service.shift_month(month, -2), service.shift_month(month, -1)
    anna, boris, clara = [await shop.enrol(n) for n in ("Анна А", "Борис Б", "Клара К")]
    # Anna and Boris joined two months ago (the first of that month); Clara this month.
    joined, _ = service.month_bounds(early)
    for shopper in (anna, boris):
        await db.raw("UPDATE account SET created_at = {} WHERE id = {}", joined, shopper.account_id)
    await shop.receipt(anna.card, "A0", [line(100_000)], at=mid_month(early))
    await shop.receipt(boris.card, "B1", [line(30_000)], at=mid_month(late))
    await shop.receipt(anna.card, "A2", [line(50_000)], at=in_this_month())
    await shop.receipt(clara.card, "C0", [line(20_000)], at=in_this_month())

    reply = await client.get(
        "/api/v1/admin/reports/health", params={"from": early}, headers=bearer(key)
    )
    assert reply.status_code == 200, reply.text
    report = reply.json()
    first, second, third = report["cohorts"]
    assert (first["month"], first["members"], first["buyers"]) == (early, 2, [1, 1, 1])
    assert first["shares"] == [0.5, 0.5, 0.5]
    assert (second["members"], second["buyers"]) == (0, [0, 0])
    assert (third["month"], third["members"], third["buyers"], third["shares"]) == (
        month,
        1,
        [1],
        [1.0],
    )
    activity = {m["month"]: m for m in report["months"]}
    assert (activity[early]["active_shoppers"], activity[early]["receipts"]) == (1, 1)
    assert activity[month]["active_shoppers"] == 2 and activity[month]["receipts"] == 2
    assert activity[month]["average_receipt_kopecks"] == 35_000
    assert "only receipts with a loyalty card" in report["card_share_note"]

    default = await client.get("/api/v1/admin/reports/health", headers=bearer(key))
    assert len(default.json()["months"]) == 12
    for params in (
        {"from": service.shift_month(month, -24)},
        {"to": service.shift_month(month, 1)},
    ):
        bad = await client.get("/api/v1/admin/reports/health", params=params, headers=bearer(key))
        assert bad.status_code == 422, bad.text
    book = await client.get(
        "/api/v1/admin/reports/health",
        params={"from": early, "format": "xlsx"},
        headers=bearer(key),
    )
    assert book.status_code == 200 and book.content[:2] == b"PK"

    client.cookies.set("wallet_console", key, path="/console")
    page = await client.get("/console/reports/health", params={"from": early})
    assert page.status_code == 200, page.text
    assert "Удержание" in page.text and "50&nbsp;%" in page.text and "<svg" in page.text
    assert "<script" not in page.text
    assert (
        await client.get("/console/reports/health", params={"to": "2999-01"})
    ).status_code == 422
