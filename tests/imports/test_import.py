"""Importing an old program: members with their consents, cards, opening balances as lots
with their own expiry, purchase history; idempotent by old id, checked whole before a row
is written, in either encoding and separator. Every test ends with the ledger reconciled
(tests/conftest.py)."""

from __future__ import annotations

import io
from datetime import UTC, timedelta

import pytest

from tests.imports.support import card_number, csv_file, future, members_file, ru
from tests.support.shop import Shop, bearer
from wallet import clock, db
from wallet.imports import service
from wallet.ledger.tables import Lot
from wallet.members import privacy
from wallet.members import service as members


async def _import(kind: str, data: bytes, *, dry_run: bool = False, batch_rows: int = 2000):
    return await service.run(
        kind,
        io.BytesIO(data),
        now=clock.now(),
        actor="test",
        dry_run=dry_run,
        batch_rows=batch_rows,
    )


async def _count(table: str) -> int:
    rows = await db.raw(f"SELECT COUNT(*) AS n FROM {table}")
    return int(rows[0]["n"])


async def _counts() -> dict[str, int]:
    tables = ("account", "member", "member_consent", "card", "lot", "journal_entry")
    return {table: await _count(table) for table in (*tables, "import_key")}


async def test_an_old_program_comes_in_and_its_cards_work_at_the_till(client):
    shop = await Shop.open(client)
    await _import("members", members_file(3))
    expires = future(90)
    await _import(
        "cards",
        csv_file(
            "cards",
            [
                f"C1;M1;{card_number(1)};plastic;active",
                f"C2;M1;{card_number(2)};virtual;active",
                f"C3;M2;{card_number(3)};plastic;blocked",
                f"C4;;{card_number(4)};plastic;active",
            ],
        ),
    )
    report = await _import(
        "balances",
        csv_file(
            "balances",
            [
                f"B1;M1;1200;01.01.2024 10:00;{ru(expires)}",
                f"B2;M1;300;01.02.2024 10:00;{ru(future(400))}",
                f"B3;M2;50;;{ru(expires)}",
            ],
        ),
    )
    assert (report.imported, report.already_imported, report.problems) == (3, 0, [])

    till = await client.get(f"/api/v1/pos/cards/{card_number(1)}", headers=bearer(shop.pos_key))
    assert till.status_code == 200, till.text
    assert till.json()["balance"] == 1500
    twin = await members.find_card(card_number(2))
    assert twin.account_id == till.json()["account_id"]
    blocked = await client.get(f"/api/v1/pos/cards/{card_number(3)}", headers=bearer(shop.pos_key))
    assert blocked.json()["status"] == "blocked"
    anonymous = await members.find_card(card_number(4))
    assert anonymous.account_id not in {
        twin.account_id,
        (await members.find_card(card_number(3))).account_id,
    }

    # The opening lots keep their own expiry: the nearer one burns first.
    spent = await shop.receipt(
        card_number(1),
        "R1",
        [{"sku": "S", "category": "grocery", "quantity": 1, "amount": 200_000}],
        redeem=1300,
    )
    assert spent["redeemed_points"] == 1300
    lots = (
        await Lot.select(Lot.remaining)
        .where((Lot.account == twin.account_id) & (Lot.source == "import"))
        .order_by(Lot.expires_at)
    )
    assert [lot["remaining"] for lot in lots] == [0, 200]


async def test_members_keep_their_consents_and_the_times_they_gave_them(database):
    await _import("members", members_file(2))
    member = await members.member_of_account(
        (await db.raw("SELECT account FROM member WHERE phone = '+79120000001'"))[0]["account"]
    )
    assert member is not None
    consents = await privacy.consents_of(member["id"])
    channels = {c.channel: c for c in consents}
    assert set(channels) == {"program", "personal_data", "marketing_email"}
    assert all(c.source == "migration" for c in consents)
    assert channels["program"].at.astimezone(UTC).isoformat().startswith("2021-03-15T07:00")
    other = await db.raw("SELECT marketing_email FROM member WHERE phone = '+79120000002'")
    assert not db.boolean(other[0]["marketing_email"])


async def test_a_second_run_of_every_file_changes_nothing(database):
    files = {
        "members": members_file(5),
        "cards": csv_file(
            "cards", [f"C{n};M{n};{card_number(n)};plastic;active" for n in range(1, 6)]
        ),
        "balances": csv_file(
            "balances", [f"B{n};M{n};{n * 100};;{ru(future(30))}" for n in range(1, 6)]
        ),
        "receipts": csv_file(
            "receipts", [f"R{n};M{n};01.06.2025 12:00;1500,50;grocery" for n in range(1, 6)]
        ),
    }
    for kind, data in files.items():
        await _import(kind, data)
    before = await _counts()
    spend = await db.raw("SELECT SUM(lifetime_spend_kopecks) AS s FROM account")
    for kind, data in files.items():
        again = await _import(kind, data)
        assert (again.imported, again.already_imported) == (0, 5), kind
    assert await _counts() == before
    assert await db.raw("SELECT SUM(lifetime_spend_kopecks) AS s FROM account") == spend
    assert int(spend[0]["s"]) == 5 * 150_050


async def test_a_dry_run_reports_every_bad_row_and_writes_nothing(database):
    await _import("members", members_file(2))
    before = await _counts()
    bad_members = csv_file(
        "members",
        [
            "M9;Ок;+79121110001;ok@example.ru;;01.01.2022;0;",
            "M9;Дубль;+79121110002;dup@example.ru;;01.01.2022;0;",
            "M10;Телефон;12345;x@example.ru;;01.01.2022;0;",
            "M11;Занят;+7 912 000-0001;y@example.ru;;01.01.2022;0;",
            "M12;Будущее;;z@example.ru;;01.01.2099;0;",
        ],
    )
    report = await _import("members", bad_members, dry_run=True)
    assert [(p.line, p.field) for p in report.problems] == [
        (3, "old_id"),
        (4, "phone"),
        (5, "phone"),
        (6, "joined_at"),
    ]
    assert "first on line 2" in report.problems[0].reason
    assert report.dry_run and report.rows == 5
    bad_balances = csv_file(
        "balances",
        [
            f"B1;M1;-5;;{ru(future(30))}",
            f"B2;M1;100;;{ru(clock.now().replace(tzinfo=None) - timedelta(days=1))}",
            f"B3;M404;100;;{ru(future(30))}",
            f"B4;M2;сто;;{ru(future(30))}",
        ],
    )
    report = await _import("balances", bad_balances, dry_run=True)
    assert [(p.line, p.field) for p in report.problems] == [
        (2, "points"),
        (3, "expires_at"),
        (4, "member_old_id"),
        (5, "points"),
    ]
    assert report.problems[0].reason == "a negative opening balance"
    assert "already expired" in report.problems[1].reason
    assert await _counts() == before


async def test_a_file_with_one_bad_row_is_refused_whole(database):
    data = csv_file(
        "members",
        [
            "M1;Анна;+79121110001;anna@example.ru;;01.01.2022;0;",
            "M1;Анна снова;+79121110002;anna2@example.ru;;01.01.2022;0;",
        ],
    )
    with pytest.raises(service.ImportRefused) as refused:
        await _import("members", data)
    assert refused.value.details["problems"] == [
        {"line": 3, "field": "old_id", "reason": "duplicate old id (first on line 2)"}
    ]
    assert await _count("member") == 0
    assert await _count("account") == 0


@pytest.mark.parametrize(
    ("encoding", "sep"), [("cp1251", ";"), ("utf-8", ","), ("utf-8-sig", ";"), ("cp1251", ",")]
)
async def test_either_encoding_and_separator_reads_the_same_names(database, encoding, sep):
    report = await _import("members", members_file(3, encoding=encoding, sep=sep))
    assert report.imported == 3
    assert report.delimiter == sep
    names = await db.raw("SELECT name FROM member ORDER BY name")
    assert [row["name"] for row in names] == [f"Покупатель Номер {n}" for n in (1, 2, 3)]


async def test_purchase_history_starts_the_tier_where_the_old_program_left_it(client):
    shop = await Shop.open(client)
    rules = await client.put(
        "/api/v1/admin/rules",
        json={"tiers": [{"name": "silver", "min_spend_kopecks": 1_500_000, "earn_rate_bp": 700}]},
        headers=bearer(shop.admin_key),
    )
    assert rules.status_code == 200, rules.text
    await _import("members", members_file(2))
    await _import(
        "cards",
        csv_file("cards", [f"C{n};M{n};{card_number(n)};plastic;active" for n in (1, 2)]),
    )
    await _import(
        "receipts",
        csv_file(
            "receipts",
            [
                "R1;M1;01.06.2025 12:00;10 000,00;grocery",
                "R2;M1;01.07.2025 12:00;6000.00;grocery",
                "R3;M2;01.07.2025 12:00;999,99;grocery",
            ],
        ),
    )
    for number, tier in ((card_number(1), "silver"), (card_number(2), "base")):
        found = await client.get(f"/api/v1/pos/cards/{number}", headers=bearer(shop.pos_key))
        assert found.json()["tier"] == tier
    months = await db.raw(
        "SELECT month, SUM(paid_kopecks) AS paid FROM offer_spend_month GROUP BY month ORDER BY month"
    )
    assert [(row["month"], int(row["paid"])) for row in months] == [
        ("2025-06", 1_000_000),
        ("2025-07", 699_999),
    ]


async def test_batches_that_split_a_file_import_it_all_once(database):
    report = await _import("members", members_file(25), batch_rows=4)
    assert report.imported == 25
    assert await _count("member") == 25
    assert await _count("import_key") == 25


async def test_admins_upload_a_file_over_the_api(client):
    shop = await Shop.open(client)
    data = members_file(2)
    headers = {**bearer(shop.admin_key), "Content-Type": "text/csv"}
    dry = await client.post(
        "/api/v1/admin/imports?kind=members&dry_run=true", content=data, headers=headers
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["imported"] == 2 and await _count("member") == 0
    done = await client.post("/api/v1/admin/imports?kind=members", content=data, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["imported"] == 2 and await _count("member") == 2

    bad = csv_file("balances", [f"B1;M1;-1;;{ru(future(3))}"])
    refused = await client.post("/api/v1/admin/imports?kind=balances", content=bad, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "import_refused"
    assert refused.json()["details"]["problems"][0]["field"] == "points"

    support = {**bearer(shop.support_key), "Content-Type": "text/csv"}
    denied = await client.post("/api/v1/admin/imports?kind=members", content=data, headers=support)
    assert denied.status_code == 403


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        (b"", 1, ""),
        (bytes(range(256)) * 4, 1, "joined_at"),
        (b"old_id;joined_at\r\nM1;01.01.2022\x00\r\n", 2, "joined_at"),
        (b"old_id;joined_at\r\nM1\x98;01.01.2022\r\n", 2, "old_id"),
        (b"old_id;joined_at\r\n" + b"M" * 200_000 + b";01.01.2022\r\n", 2, ""),
    ],
    ids=["empty", "binary", "nul", "undefined-cp1251-byte", "huge-field"],
)
async def test_a_file_that_is_not_csv_is_a_422_naming_where(client, body, line, field):
    shop = await Shop.open(client)
    headers = {**bearer(shop.admin_key), "Content-Type": "text/csv"}
    reply = await client.post("/api/v1/admin/imports?kind=members", content=body, headers=headers)
    assert reply.status_code == 422, reply.text
    first = reply.json()["details"]["problems"][0]
    assert (first["line"], first["field"]) == (line, field)
    assert await _count("member") == 0
