"""Reports through HTTP against the ledger they add up: the liability today is the sum of
the accounts' balances, a past moment leaves out what came after it, movements add up to
the change in what shoppers hold, and the files and charts read back."""

from __future__ import annotations

import asyncio
import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from datetime import timedelta
from typing import Any

from tests.support.shop import Shop, bearer, iso, line, make_key, make_store
from wallet import clock, db
from wallet.ledger import service as ledger

SVG = "{http://www.w3.org/2000/svg}svg"
XLSX_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


async def _held() -> dict[str, int]:
    rows = await db.raw(
        "SELECT COALESCE(SUM(balance), 0) AS balance, COALESCE(SUM(pending), 0) AS pending, "
        "COALESCE(SUM(debt), 0) AS debt FROM account"
    )
    return {k: int(v) for k, v in rows[0].items()}


async def _liability(client: Any, key: str, **params: str) -> dict[str, Any]:
    reply = await client.get("/api/v1/admin/reports/liability", params=params, headers=bearer(key))
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def _busy_shop(client: Any) -> tuple[Shop, list[Any]]:
    """Two stores, three shoppers, sales, a redemption, a return and a manual credit."""
    shop = await Shop.open(client)
    await make_store("SPB-001", "Невский, 1")
    spb_key = await make_key("pos", "SPB-001")
    anna = await shop.enrol("Анна Смирнова", join_store="MSK-001")
    boris = await shop.enrol("Борис Петров", join_store="SPB-001")
    vera = await shop.enrol("Вера Иванова")
    await shop.receipt(anna.card, "A1", [line(100_000), line(20_000, sku="SKU-2")])
    await shop.receipt(boris.card, "B1", [line(60_000)], key=spb_key)
    await shop.receipt(anna.card, "A2", [line(10_000)], redeem=30)
    await shop.give_points(vera.account_id, 70)
    returned = await client.post(
        "/api/v1/pos/receipts/B1/returns",
        json={"return_id": "RET-B1", "occurred_at": iso(clock.now())},
        headers=bearer(spb_key),
    )
    assert returned.status_code == 201, returned.text
    return shop, [anna, boris, vera]


async def test_liability_now_equals_the_sum_of_balances_and_splits_add_up(client):
    shop, (anna, _boris, _vera) = await _busy_shop(client)
    held = await _held()
    report = await _liability(client, shop.admin_key)
    total = report["total"]
    assert total["balance_points"] == held["balance"] > 0
    assert total["pending_points"] == held["pending"]
    assert total["debt_points"] == held["debt"]
    assert total["outstanding_points"] == held["balance"] + held["pending"]
    assert total["value_kopecks"] == total["outstanding_points"] * report["point_value_kopecks"]
    assert total["accounts"] == 3
    for split in ("by_tier", "by_join_store"):
        assert sum(r["outstanding_points"] for r in report[split]) == total["outstanding_points"]
        assert sum(r["accounts"] for r in report[split]) == 3
    stores = {r["store_code"]: r for r in report["by_join_store"]}
    assert set(stores) == {"MSK-001", "SPB-001", None}
    anna_points = (await _held_of(anna.account_id))["balance"]
    assert stores["MSK-001"]["balance_points"] == anna_points
    # Everything held now burns within the program's six months.
    assert sum(e["points"] for e in report["expiring"]) == total["outstanding_points"]
    assert report["expiring_later_points"] == 0
    assert len(report["expiring"]) == 12


async def _held_of(account_id: int) -> dict[str, int]:
    rows = await db.raw("SELECT balance, pending, debt FROM account WHERE id = {}", account_id)
    return rows[0]


async def test_a_past_moment_leaves_out_later_movements(client):
    shop = await Shop.open(client)
    anna = await shop.enrol()
    await shop.receipt(anna.card, "A1", [line(100_000)])
    before = await _held()
    moment = clock.now()
    await asyncio.sleep(0.01)
    await shop.receipt(anna.card, "A2", [line(40_000)], redeem=20)
    await shop.give_points(anna.account_id, 15)
    after = await _held()
    assert after["balance"] != before["balance"]

    past = await _liability(client, shop.admin_key, as_of=iso(moment))
    assert past["total"]["balance_points"] == before["balance"] == 50
    now = await _liability(client, shop.admin_key)
    assert now["total"]["balance_points"] == after["balance"]


async def test_points_past_their_expiry_are_not_owed_before_the_sweep_writes_it(client):
    shop = await Shop.open(client)
    anna = await shop.enrol()
    await shop.receipt(anna.card, "A1", [line(100_000)])
    assert (await _liability(client, shop.admin_key))["total"]["balance_points"] == 50
    # The lot reaches its date; until the sweep runs the account still shows the points.
    burnt_at = clock.now() - timedelta(seconds=1)
    await db.raw(
        "UPDATE lot SET expires_at = {} WHERE id = {}", burnt_at, await _lot_of(anna.account_id)
    )
    await db.raw("UPDATE account SET next_lot_event_at = {}", burnt_at)
    assert (await _held())["balance"] == 50
    report = await _liability(client, shop.admin_key)
    assert report["total"]["balance_points"] == 0
    assert report["expiring"][0]["points"] == 0
    await ledger.expire_due(now=clock.now())
    assert (await _held())["balance"] == 0


async def _lot_of(account_id: int) -> int:
    rows = await db.raw("SELECT id FROM lot WHERE account = {}", account_id)
    return int(rows[0]["id"])


async def test_the_liability_of_a_future_moment_is_refused(client):
    shop = await Shop.open(client)
    reply = await client.get(
        "/api/v1/admin/reports/liability",
        params={"as_of": iso(clock.now() + timedelta(days=1))},
        headers=bearer(shop.admin_key),
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] == "invalid_input"


async def test_movements_add_up_to_the_change_in_what_shoppers_hold(client):
    start = clock.now() - timedelta(seconds=1)
    shop, _people = await _busy_shop(client)
    held = await _held()
    end = clock.now() + timedelta(seconds=1)
    reply = await client.get(
        "/api/v1/admin/reports/movements",
        params={"from": iso(start), "to": iso(end)},
        headers=bearer(shop.admin_key),
    )
    assert reply.status_code == 200, reply.text
    report = reply.json()
    total = report["total"]
    assert total["net"] == held["balance"] + held["pending"] - held["debt"]
    assert total["redeemed"] == -30
    assert total["adjusted"] == 70
    assert total["returned"] < 0
    assert total["earned"] > 0
    assert sum(d["net"] for d in report["by_day"]) == total["net"]
    by_store = {s["store_code"]: s for s in report["by_store"]}
    assert by_store["SPB-001"]["net"] == 0  # sold and returned
    assert by_store[None]["adjusted"] == 70

    only = await client.get(
        "/api/v1/admin/reports/movements",
        params={"from": iso(start), "to": iso(end), "store": "SPB-001"},
        headers=bearer(shop.admin_key),
    )
    assert only.status_code == 200, only.text
    assert [s["store_code"] for s in only.json()["by_store"]] == ["SPB-001"]

    receipts = await client.get(
        "/api/v1/admin/reports/movements/receipts",
        params={"from": iso(start), "to": iso(end), "limit": "2"},
        headers=bearer(shop.support_key),
    )
    assert receipts.status_code == 200, receipts.text
    page = receipts.json()
    assert len(page["items"]) == 2 and page["next_after"] is not None
    rest = await client.get(
        "/api/v1/admin/reports/movements/receipts",
        params={"from": iso(start), "to": iso(end), "after": str(page["next_after"])},
        headers=bearer(shop.support_key),
    )
    items = page["items"] + rest.json()["items"]
    assert [i["external_id"] for i in items] == ["A1", "B1", "A2"]
    assert items[1]["earned"] + items[1]["returned"] == 0
    detail = await client.get(
        f"/api/v1/admin/reports/movements/receipts/{items[0]['receipt_id']}",
        headers=bearer(shop.support_key),
    )
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [ln["sku"] for ln in body["lines"]] == ["SKU-1", "SKU-2"]
    assert sum(m["points"] for m in body["movements"]) == items[0]["net"]


async def test_bad_periods_and_unknown_stores_are_refused(client):
    shop = await Shop.open(client)
    now = clock.now()
    cases = [
        ({"from": iso(now), "to": iso(now - timedelta(days=1))}, 422),
        ({"from": iso(now - timedelta(days=400)), "to": iso(now)}, 422),
        ({"from": iso(now - timedelta(days=1)), "to": iso(now), "store": "NOPE"}, 404),
        ({"from": "yesterday", "to": iso(now)}, 400),
        ({"from": "9999-12-31T00:00:00-05:00", "to": "9999-12-31T01:00:00-05:00"}, 422),
        ({"from": "0001-01-01T00:00:00+05:00", "to": "0001-01-02T00:00:00+05:00"}, 422),
    ]
    for params, status in cases:
        reply = await client.get(
            "/api/v1/admin/reports/movements", params=params, headers=bearer(shop.admin_key)
        )
        assert reply.status_code == status, (params, reply.text)
        assert {"code", "message", "details"} <= set(reply.json())
    pos = await client.get("/api/v1/admin/reports/liability", headers=bearer(shop.pos_key))
    assert pos.status_code == 403


def _xlsx_sheets(data: bytes) -> dict[str, list[list[str]]]:
    """Each sheet's cells as text (numbers as written), read with zipfile and XML."""
    book = zipfile.ZipFile(io.BytesIO(data))
    shared: list[str] = []
    if "xl/sharedStrings.xml" in book.namelist():
        root = ET.fromstring(book.read("xl/sharedStrings.xml"))
        shared = ["".join(t.text or "" for t in si.iter(f"{{{XLSX_NS['m']}}}t")) for si in root]
    workbook = ET.fromstring(book.read("xl/workbook.xml"))
    names = [s.get("name") for s in workbook.iter(f"{{{XLSX_NS['m']}}}sheet")]
    out: dict[str, list[list[str]]] = {}
    for n, name in enumerate(names, start=1):
        root = ET.fromstring(book.read(f"xl/worksheets/sheet{n}.xml"))
        rows = []
        for row in root.iter(f"{{{XLSX_NS['m']}}}row"):
            cells = []
            for c in row.findall("m:c", XLSX_NS):
                value = c.find("m:v", XLSX_NS)
                text = value.text if value is not None else ""
                if c.get("t") == "s":
                    text = shared[int(text or 0)]
                elif c.get("t") == "inlineStr":  # xlsxwriter's constant_memory mode
                    text = "".join(t.text or "" for t in c.iter(f"{{{XLSX_NS['m']}}}t"))
                elif c.get("t") is None:
                    text = f"n:{text}"  # a number cell
                cells.append(text or "")
            rows.append(cells)
        out[str(name)] = rows
    return out


async def test_exports_read_back_with_russian_headers_and_numbers(client):
    shop, _people = await _busy_shop(client)
    report = await _liability(client, shop.admin_key)
    reply = await client.get(
        "/api/v1/admin/reports/liability",
        params={"format": "csv"},
        headers=bearer(await make_key("marketer")),
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    text = reply.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Раздел", "На момент", "Цена балла, ₽", "Счетов"]
    total = rows[1]
    assert total[0] == "Итого"
    headers = rows[0]
    assert int(total[headers.index("Доступно баллов")]) == report["total"]["balance_points"]
    assert (
        float(total[headers.index("Стоимость баллов, ₽")]) == report["total"]["value_kopecks"] / 100
    )

    xlsx = await client.get(
        "/api/v1/admin/reports/liability",
        params={"format": "xlsx"},
        headers=bearer(shop.admin_key),
    )
    assert xlsx.status_code == 200, xlsx.text
    sheets = _xlsx_sheets(xlsx.content)
    assert list(sheets) == ["Итого", "По уровням", "По магазинам вступления", "Сгорание по месяцам"]
    head, first = sheets["Итого"]
    value = first[head.index("Доступно баллов")]
    assert value == f"n:{report['total']['balance_points']}"
    assert len(sheets["Сгорание по месяцам"]) == 14  # header, 12 months, later

    start, end = clock.now() - timedelta(hours=1), clock.now() + timedelta(seconds=1)
    receipts = await client.get(
        "/api/v1/admin/reports/movements/receipts",
        params={"from": iso(start), "to": iso(end), "format": "xlsx"},
        headers=bearer(shop.admin_key),
    )
    assert receipts.status_code == 200, receipts.text
    [(name, table)] = _xlsx_sheets(receipts.content).items()
    assert name == "Чеки"
    assert table[0][1] == "Номер чека на кассе"
    assert [r[1] for r in table[1:]] == ["A1", "B1", "A2"]
    movements_csv = await client.get(
        "/api/v1/admin/reports/movements",
        params={"from": iso(start), "to": iso(end), "format": "csv"},
        headers=bearer(shop.admin_key),
    )
    assert movements_csv.status_code == 200
    table = list(csv.reader(io.StringIO(movements_csv.content.decode("utf-8-sig"))))
    assert table[0][0] == "Раздел" and "Списано в оплату" in table[0]
    assert int(table[1][table[0].index("Списано в оплату")]) == -30


async def test_charts_are_svg_without_script(client):
    from wallet.reports import charts, service

    await _busy_shop(client)
    now = clock.now()
    for svg in (
        charts.liability_by_expiry(await service.liability(now, now=now)),
        charts.movements_by_day(
            await service.movements(now - timedelta(days=2), now + timedelta(seconds=1), store=None)
        ),
    ):
        root = ET.fromstring(svg)
        assert root.tag == SVG
        assert not [e for e in root.iter() if str(e.tag).endswith("script")]


async def test_console_pages_show_the_figures_and_their_charts(client):
    shop, _people = await _busy_shop(client)
    report = await _liability(client, shop.admin_key)
    anonymous = await client.get("/console/reports/liability")
    assert anonymous.status_code == 303
    key = await make_key("marketer")
    client.cookies.set("wallet_console", key, path="/console")

    page = await client.get("/console/reports/liability")
    assert page.status_code == 200, page.text
    assert "Обязательства по баллам" in page.text
    outstanding = f"{report['total']['outstanding_points']:,}".replace(",", "\u00a0")
    assert f"<b>{outstanding}</b>" in page.text
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>") + 6]
    assert ET.fromstring(svg).tag == SVG
    assert "<script" not in page.text
    file = await client.get("/console/reports/liability", params={"format": "csv"})
    assert file.status_code == 200 and file.headers["content-type"].startswith("text/csv")

    moves = await client.get("/console/reports/movements")
    assert moves.status_code == 200, moves.text
    assert "Списано в оплату" in moves.text and "−30" in moves.text
    assert ET.fromstring(moves.text[moves.text.index("<svg") : moves.text.index("</svg>") + 6])
    bad = await client.get("/console/reports/movements", params={"from": "2020-01-01"})
    assert bad.status_code == 422 and "366" in bad.text
    overflow = await client.get("/console/reports/movements", params={"to": "9999-12-31"})
    assert overflow.status_code == 422
    bad_date = await client.get("/console/reports/liability", params={"as_of": "вчера"})
    assert bad_date.status_code == 422
