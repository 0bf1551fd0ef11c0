"""A shopper who came over from the old program sees their past purchases there in their
history, on the API and the /history page, marked as from the old program, on SQLite and
PostgreSQL; a long old history pages on after the last point movement."""

from __future__ import annotations

import io
from datetime import datetime

from tests.imports.support import card_number, csv_file, members_file
from tests.pages.conftest import code_in, csrf_of
from tests.support.shop import Shop, bearer, line
from wallet import clock, db, settings
from wallet.auth import service as auth
from wallet.imports import service


async def _import(kind: str, data: bytes) -> None:
    await service.run(kind, io.BytesIO(data), now=clock.now(), actor="test")


async def _old_program(receipts: list[str]) -> None:
    await _import("members", members_file(2))
    await _import(
        "cards",
        csv_file("cards", [f"C{n};M{n};{card_number(n)};plastic;active" for n in (1, 2)]),
    )
    await _import("receipts", csv_file("receipts", receipts))


async def _token(phone: str) -> dict[str, str]:
    [row] = await db.raw("SELECT id FROM member WHERE phone = {}", phone)
    async with db.write_transaction():
        token = await auth.issue_shopper_token(int(row["id"]), now=clock.now())
    return bearer(token)


def _local(text: str) -> datetime:
    return datetime.strptime(text, "%d.%m.%Y %H:%M").replace(tzinfo=settings.get().tz)


async def test_the_old_programs_purchases_are_in_my_history_as_such(client):
    shop = await Shop.open(client)
    await _old_program(
        [
            "R1;M1;01.06.2025 12:00;10 000,00;grocery",
            "R2;M1;15.07.2025 18:30;600,50;",
            "R3;M1;01.07.2025 09:00;999,99;household",
            "R9;M2;02.07.2025 12:00;100,00;grocery",
        ]
    )
    await shop.receipt(card_number(1), "HERE-1", [line(100_000)])
    mine = await _token("+79120000001")

    reply = await client.get("/api/v1/me/history", headers=mine)
    assert reply.status_code == 200, reply.text
    page = reply.json()
    assert [(i["kind"], i["receipt_id"]) for i in page["items"]] == [
        ("earn", "HERE-1"),
        ("imported", "R2"),
        ("imported", "R3"),
        ("imported", "R1"),
    ]
    r2 = page["items"][1]
    assert (r2["points"], r2["receipt_total_kopecks"], r2["id"]) == (0, 60_050, 0)
    assert datetime.fromisoformat(r2["receipt_at"]) == _local("15.07.2025 18:30")
    assert page["items"][2]["reason"] == "category:household" and r2["reason"] == ""
    assert page["next_before"] is None and page["next_before_imported"] is None

    # Two at a time: the movement and the newest old purchase, then the rest on their own.
    first = (await client.get("/api/v1/me/history?limit=2", headers=mine)).json()
    assert [i["receipt_id"] for i in first["items"]] == ["HERE-1", "R2"]
    assert first["next_before"] is None and first["next_before_imported"]
    rest = await client.get(
        f"/api/v1/me/history?limit=2&before_imported={first['next_before_imported']}",
        headers=mine,
    )
    assert [i["receipt_id"] for i in rest.json()["items"]] == ["R3", "R1"]
    assert rest.json()["next_before_imported"] is None

    # Another shopper's old purchases are theirs alone; the export carries them too.
    theirs = (await client.get("/api/v1/me/history", headers=await _token("+79120000002"))).json()
    assert [(i["kind"], i["receipt_id"]) for i in theirs["items"]] == [("imported", "R9")]
    export = (await client.get("/api/v1/me/export", headers=mine)).json()
    assert [r["receipt_id"] for r in export["imported_receipts"]] == ["R1", "R3", "R2"]
    assert export["imported_receipts"][0]["paid_kopecks"] == 1_000_000

    # A second run of the file shows nothing twice.
    await _import("receipts", csv_file("receipts", ["R1;M1;01.06.2025 12:00;10 000,00;grocery"]))
    again = (await client.get("/api/v1/me/history", headers=mine)).json()
    assert len(again["items"]) == 4


async def test_the_history_page_marks_them_and_pages_through_a_long_old_history(client, smtp_sink):
    await Shop.open(client)
    await _old_program(
        [f"R{n:02d};M1;{n:02d}.03.2025 12:00;{n}00,00;grocery" for n in range(1, 23)]
    )
    shown = await client.post(
        "/signin",
        data={"csrf": csrf_of((await client.get("/signin")).text), "email": "shopper1@example.ru"},
    )
    assert shown.status_code == 200, shown.text
    [message] = smtp_sink.to("shopper1@example.ru")
    signed = await client.post(
        "/signin/code",
        data={
            "csrf": csrf_of(shown.text),
            "email": "shopper1@example.ru",
            "code": code_in(message),
        },
    )
    assert signed.status_code in (302, 303), signed.text

    page = (await client.get("/history")).text
    assert page.count("из прежней программы") == 20
    assert page.index("Чек R22") < page.index("Чек R21") < page.index("Чек R03")
    assert "Чек R02" not in page
    older = page.split('id="older" href="')[1].split('"')[0]
    assert older.startswith("/history?before_imported=")
    rest = (await client.get(older)).text
    assert rest.count("из прежней программы") == 2
    assert rest.index("Чек R02") < rest.index("Чек R01") and 'id="older"' not in rest
