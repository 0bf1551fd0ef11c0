"""Plastic cards: printed anonymous, earning at the till, then claimed with the scratch code;
their points, pending points, debt and spend follow them onto the shopper's account."""

from __future__ import annotations

from datetime import timedelta

from tests.pages.conftest import join, post_form
from tests.support.shop import Shop, bearer, iso, line
from wallet import clock, db
from wallet.ledger import reads as ledger_reads
from wallet.ledger import service as ledger
from wallet.plastic import service as plastic


async def _print(count: int = 1) -> list[plastic.Printed]:
    async with db.write_transaction():
        return await plastic.create_batch(count=count, prefix="78", batch="test", now=clock.now())


async def test_plastic_card_points_join_the_shoppers_account_on_activation(client):
    shop = await Shop.open(client)
    [printed] = await _print()
    assert len(printed.number) == 16 and printed.number.startswith("78")
    assert len(printed.code) == 10
    await shop.receipt(printed.number, "R1", [line(100_000)])
    shopper = await shop.enrol("Анна Смирнова", email="anna@example.ru")
    await shop.receipt(shopper.card, "R2", [line(200_000)])
    reply = await client.post(
        "/api/v1/me/cards/activate",
        json={
            "number": " ".join(printed.number[i : i + 4] for i in range(0, 16, 4)),
            "code": printed.code,
        },
        headers=shopper.headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "number": printed.number,
        "kind": "plastic",
        "role": "twin",
        "status": "active",
        "holder_name": "Анна Смирнова",
    }
    me = await shop.me(shopper)
    assert me["balance"] == 150
    assert {card["number"] for card in me["cards"]} == {shopper.card, printed.number}
    # The till now sees the plastic card on the shopper's account, with the shared balance.
    seen = await client.get(f"/api/v1/pos/cards/{printed.number}", headers=bearer(shop.pos_key))
    assert seen.json()["account_id"] == shopper.account_id and seen.json()["balance"] == 150
    history = (await client.get("/api/v1/me/history", headers=shopper.headers)).json()["items"]
    assert history[0]["kind"] == "transfer" and history[0]["points"] == 50
    assert history[0]["receipt_id"] == "R1"


async def test_an_activated_card_cannot_be_claimed_again(client):
    shop = await Shop.open(client)
    [printed] = await _print()
    first = await shop.enrol("Анна", email="anna@example.ru")
    second = await shop.enrol("Борис", email="boris@example.ru")
    body = {"number": printed.number, "code": printed.code}
    ok = await client.post("/api/v1/me/cards/activate", json=body, headers=first.headers)
    assert ok.status_code == 200
    again = await client.post("/api/v1/me/cards/activate", json=body, headers=second.headers)
    assert again.status_code == 409 and again.json()["code"] == "card_already_activated"
    twice = await client.post("/api/v1/me/cards/activate", json=body, headers=first.headers)
    assert twice.status_code == 409


async def test_five_wrong_codes_lock_the_card_for_an_hour(client):
    shop = await Shop.open(client)
    [printed] = await _print()
    shopper = await shop.enrol("Анна", email="anna@example.ru")
    wrong = {"number": printed.number, "code": "0" * 10 if printed.code != "0" * 10 else "1" * 10}
    for _ in range(5):
        reply = await client.post("/api/v1/me/cards/activate", json=wrong, headers=shopper.headers)
        assert reply.status_code == 422 and reply.json()["code"] == "wrong_code"
    right = {"number": printed.number, "code": printed.code}
    reply = await client.post("/api/v1/me/cards/activate", json=right, headers=shopper.headers)
    assert reply.status_code == 429 and reply.json()["code"] == "too_many_attempts"


async def test_guessing_across_many_numbers_stops_after_ten_tries(client):
    shop = await Shop.open(client)
    printed = await _print(3)
    shopper = await shop.enrol("Анна", email="anna@example.ru")
    statuses = []
    for attempt in range(11):
        card = printed[attempt % 3]
        reply = await client.post(
            "/api/v1/me/cards/activate",
            json={"number": card.number, "code": "9" * 9 + str(attempt % 10)},
            headers=shopper.headers,
        )
        statuses.append(reply.status_code)
    assert statuses[:10] == [422] * 10 and statuses[10] == 429
    unknown = await client.post(
        "/api/v1/me/cards/activate",
        json={"number": "7800000000000000", "code": "1"},
        headers=shopper.headers,
    )
    assert unknown.status_code == 429


async def test_a_receipt_posted_before_activation_can_be_returned_after_it(client):
    shop = await Shop.open(client)
    [printed] = await _print()
    await shop.receipt(printed.number, "R1", [line(100_000)])
    shopper = await shop.enrol("Анна", email="anna@example.ru")
    await shop.give_points(shopper.account_id, 20)
    reply = await client.post(
        "/api/v1/me/cards/activate",
        json={"number": printed.number, "code": printed.code},
        headers=shopper.headers,
    )
    assert reply.status_code == 200
    returned = await client.post(
        "/api/v1/pos/receipts/R1/returns",
        json={"return_id": "RET1", "occurred_at": iso(clock.now() - timedelta(seconds=1))},
        headers=bearer(shop.pos_key),
    )
    assert returned.status_code == 201, returned.text
    assert returned.json()["reversal"]["from_receipt_lot"] == 50
    assert (await shop.me(shopper))["balance"] == 20


async def test_activation_from_the_card_page(client):
    [printed] = await _print()
    await join(client, name="Анна", email="anna@example.ru")
    wrong = await post_form(
        client, "/card", "/card/activate", {"number": printed.number, "code": "1"}
    )
    assert wrong.status_code == 422 and "Неверный номер карты или код" in wrong.text
    ok = await post_form(
        client, "/card", "/card/activate", {"number": printed.number, "code": printed.code}
    )
    assert ok.status_code == 303
    page = await client.get(ok.headers["location"])
    assert (
        printed.number[:4] + " " + printed.number[4:8] in page.text and "пластиковая" in page.text
    )


async def test_merging_accounts_moves_pending_points_debt_and_spend(database):
    now = clock.now()
    async with db.write_transaction():
        source_id = await ledger.open_account(now=now)
        target_id = await ledger.open_account(now=now)
        async with ledger.accounts(source_id, target_id, now=now) as (source, target):
            await source.earn(
                30,
                source="receipt",
                earned_at=now,
                available_from=now + timedelta(days=14),
                expires_at=now + timedelta(days=180),
            )
            await source.earn(
                40,
                source="receipt",
                earned_at=now,
                available_from=now,
                expires_at=now + timedelta(days=90),
            )
            await source.spend(15)
            source.add_spend(500_000)
            await target.earn(
                100,
                source="receipt",
                earned_at=now,
                available_from=now,
                expires_at=now + timedelta(days=30),
            )
            merged = await source.merge_into(target, actor="test")
    assert (merged.balance, merged.pending, merged.lots) == (25, 30, 2)
    after = await ledger_reads.summary(target_id, now=now)
    assert (after.balance, after.pending, after.lifetime_spend_kopecks) == (125, 30, 500_000)
    assert after.next_expiry is not None and after.next_expiry.points == 100
    empty = await ledger_reads.summary(source_id, now=now)
    assert (empty.balance, empty.pending, empty.debt, empty.lifetime_spend_kopecks) == (0, 0, 0, 0)
    # The pending lot still matures on its own date on the new account.
    later = await ledger_reads.summary(target_id, now=now + timedelta(days=15))
    assert (later.balance, later.pending) == (155, 0)


async def test_merging_an_account_with_debt_repays_it_from_the_target(database):
    now = clock.now()
    async with db.write_transaction():
        source_id = await ledger.open_account(now=now)
        target_id = await ledger.open_account(now=now)
        async with ledger.account(source_id, now=now) as source:
            await source.take_back(12, from_lot=None, receipt_id=None)
        async with ledger.account(target_id, now=now) as target:
            await target.earn(
                100,
                source="receipt",
                earned_at=now,
                available_from=now,
                expires_at=now + timedelta(days=30),
            )
        merged = await ledger.merge_accounts(source_id, target_id, now=now, actor="test")
    assert (merged.debt, merged.debt_repaid) == (12, 12)
    after = await ledger_reads.summary(target_id, now=now)
    assert (after.balance, after.debt) == (88, 0)
