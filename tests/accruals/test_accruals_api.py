"""Bulk and scheduled accruals through the HTTP API, on SQLite and PostgreSQL: a preview
first, one journal entry per account per run (a rerun or a worker dying mid-run credits
nobody twice), debits never past the balance, monthly runs, audit with the actor, and bad
input refused with nothing written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support.shop import Shop, bearer, iso, make_key
from wallet import clock, db
from wallet.accruals import service as accruals
from wallet.platform import worker

PATH = "/api/v1/admin/accruals"


async def segment(shop: Shop, key: str, flt: dict[str, Any]) -> int:
    reply = await shop.client.post(
        "/api/v1/admin/segments", json={"name": "Все", "filter": flt}, headers=bearer(key)
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


async def entries(reason: str) -> list[dict[str, Any]]:
    return await db.fetch(
        "SELECT account, kind, points, actor FROM journal_entry WHERE reason = $1 ORDER BY account",
        reason,
    )


async def test_a_segment_is_previewed_then_credited_once_each_with_reason_and_actor(client):
    shop = await Shop.open(client)
    marketer = await make_key("marketer")
    people = [await shop.enrol(name) for name in ("Анна А", "Борис Б", "Вера В")]
    everyone = await segment(shop, marketer, {"tiers": ["Базовый"]})

    preview = await client.post(
        f"{PATH}/preview", json={"segment_id": everyone, "points": 500}, headers=bearer(marketer)
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "segment_id": everyone,
        "shoppers": 3,
        "points_total": 1_500,
        "cost_kopecks": 150_000,
    }
    made = await client.post(
        PATH,
        json={
            "name": "Подарок к открытию",
            "segment_id": everyone,
            "points": 500,
            "valid_days": 30,
            "reason": "Открытие магазина на Тверской",
        },
        headers=bearer(marketer),
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "scheduled"
    await worker.run_until_idle()

    for person in people:
        me = await shop.me(person)
        assert me["balance"] == 500
        assert me["next_expiry"]["points"] == 500
    found = await entries("Открытие магазина на Тверской")
    assert sorted(e["account"] for e in found) == sorted(p.account_id for p in people)
    assert {(e["kind"], e["points"], e["actor"]) for e in found} == {
        ("adjust", 500, "marketer:test marketer")
    }
    done = (await client.get(f"{PATH}/{made.json()['id']}", headers=bearer(marketer))).json()
    assert done["status"] == "done" and done["runs"] == 1
    assert done["credited_accounts"] == 3 and done["credited_points"] == 1_500
    audit = await db.fetch(
        "SELECT actor, action FROM audit_event WHERE subject = $1 ORDER BY id",
        f"accrual:{made.json()['id']}",
    )
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("marketer:test marketer", "accrual.create"),
        ("marketer:test marketer", "accrual.run"),
    ]
    # The same run again (a duplicate job, an operator's requeue): nobody moves.
    assert await accruals.run(made.json()["id"], 0, now=clock.now()) is True
    assert len(await entries("Открытие магазина на Тверской")) == 3
    # Their passes were queued for rebuilding with the credit.
    jobs = await db.fetch("SELECT COUNT(*) AS n FROM outbox_job WHERE kind = 'pass_update'")
    assert jobs[0]["n"] >= 3


async def test_a_run_that_dies_mid_way_resumes_and_credits_nobody_twice(client, monkeypatch):
    monkeypatch.setattr(accruals, "CHUNK", 2)
    shop = await Shop.open(client)
    people = [await shop.enrol(f"Покупатель {n}") for n in range(5)]
    everyone = await segment(shop, shop.admin_key, {"tiers": ["Базовый"]})
    made = await client.post(
        PATH,
        json={"name": "Бонус", "segment_id": everyone, "points": 200, "reason": "Сбой и повтор"},
        headers=bearer(shop.admin_key),
    )
    accrual_id = made.json()["id"]
    # The worker commits one chunk of two accounts, then dies.
    assert await accruals.run(accrual_id, 0, now=clock.now(), chunks_at_most=1) is False
    assert len(await entries("Сбой и повтор")) == 2
    half = (await client.get(f"{PATH}/{accrual_id}", headers=bearer(shop.admin_key))).json()
    assert half["status"] == "running" and half["credited_accounts"] == 2
    # The outbox still holds the job: it runs again from the start and skips the two.
    await worker.run_until_idle()
    found = await entries("Сбой и повтор")
    assert sorted(e["account"] for e in found) == sorted(p.account_id for p in people)
    for person in people:
        assert (await shop.me(person))["balance"] == 200
    done = (await client.get(f"{PATH}/{accrual_id}", headers=bearer(shop.admin_key))).json()
    assert done["status"] == "done" and done["credited_points"] == 1_000


async def test_a_debit_never_goes_past_the_balance_and_a_monthly_accrual_runs_each_month(
    client,
):
    shop = await Shop.open(client)
    rich, poor = await shop.enrol("Богатый Б"), await shop.enrol("Бедный Б")
    await shop.give_points(rich.account_id, 1_000)
    await shop.give_points(poor.account_id, 200)
    everyone = await segment(shop, shop.admin_key, {"tiers": ["Базовый"]})
    debit = await client.post(
        PATH,
        json={"name": "Списание", "segment_id": everyone, "points": -300, "reason": "Ошибка"},
        headers=bearer(shop.admin_key),
    )
    assert debit.status_code == 201, debit.text
    await worker.run_until_idle()
    assert (await shop.me(rich))["balance"] == 700
    assert (await shop.me(poor))["balance"] == 0
    assert (await shop.me(poor))["debt"] == 0

    start = clock.now() + timedelta(hours=1)
    monthly = await client.post(
        PATH,
        json={
            "name": "Ежемесячно",
            "segment_id": everyone,
            "points": 100,
            "reason": "Каждый месяц",
            # Longer than the test's two months: the worker's expiry sweep runs with them.
            "valid_days": 365,
            "run_at": iso(start),
            "repeat": "monthly",
        },
        headers=bearer(shop.admin_key),
    )
    accrual_id = monthly.json()["id"]
    await worker.run_until_idle()
    assert (await shop.me(poor))["balance"] == 0  # not yet its time
    await worker.run_until_idle(now=start + timedelta(minutes=1))
    assert (await shop.me(poor))["balance"] == 100
    after_one = (await client.get(f"{PATH}/{accrual_id}", headers=bearer(shop.admin_key))).json()
    assert after_one["status"] == "scheduled" and after_one["runs"] == 1
    assert after_one["next_run_at"] == iso(clock.add_months(start, 1)).replace("+00:00", "Z")
    await worker.run_until_idle(now=start + timedelta(days=32))
    assert (await shop.me(poor))["balance"] == 200
    assert len(await entries("Каждый месяц")) == 4
    cancelled = await client.post(f"{PATH}/{accrual_id}/cancel", headers=bearer(shop.admin_key))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    await worker.run_until_idle(now=start + timedelta(days=70))
    assert (await shop.me(poor))["balance"] == 200
    again = await client.post(f"{PATH}/{accrual_id}/cancel", headers=bearer(shop.admin_key))
    assert again.status_code == 422 and again.json()["code"] == "accrual_not_scheduled"


async def test_a_credited_shopper_who_consented_gets_an_email_and_no_one_else(client, smtp_sink):
    shop = await Shop.open(client)
    consents = {"program": True, "personal_data": True, "terms_version": "2026-01"}
    yes = await shop.enrol(
        "Анна Да", email="anna.yes@example.ru", consents={**consents, "marketing_email": True}
    )
    no = await shop.enrol("Борис Нет", email="boris.no@example.ru")
    everyone = await segment(shop, shop.admin_key, {"tiers": ["Базовый"]})
    made = await client.post(
        PATH,
        json={
            "name": "Подарок",
            "segment_id": everyone,
            "points": 500,
            "reason": "подарок к открытию магазина",
            "notify_email": True,
        },
        headers=bearer(shop.admin_key),
    )
    assert made.status_code == 201 and made.json()["notify_email"] is True
    await worker.run_until_idle()
    assert (await shop.me(yes))["balance"] == (await shop.me(no))["balance"] == 500
    [message] = smtp_sink.to("anna.yes@example.ru")
    assert message["Subject"] == "+500\u00a0баллов на вашей карте"
    assert "подарок к открытию магазина" in message.get_body(("plain",)).get_content()
    assert smtp_sink.to("boris.no@example.ru") == []


async def test_bad_accruals_are_refused_and_write_nothing(client):
    shop = await Shop.open(client)
    await shop.enrol("Анна А")
    nobody = await segment(shop, shop.admin_key, {"tiers": ["Золотой"]})
    everyone = await segment(shop, shop.admin_key, {"tiers": ["Базовый"]})
    body = {"name": "Бонус", "segment_id": nobody, "points": 500, "reason": "Подарок"}
    for path, sent in ((f"{PATH}/preview", {"segment_id": nobody, "points": 500}), (PATH, body)):
        empty = await client.post(path, json=sent, headers=bearer(shop.admin_key))
        assert empty.status_code == 422 and empty.json()["code"] == "accrual_segment_empty"
    cases = [
        ({**body, "segment_id": everyone, "points": 0}, 422, "accrual_points_zero"),
        ({**body, "segment_id": 999_999}, 404, "segment_not_found"),
        ({**body, "segment_id": everyone, "bonus": 1}, 400, "invalid_request"),
        ({**body, "segment_id": everyone, "points": 10_000_000}, 400, "invalid_request"),
        ({**body, "segment_id": everyone, "run_at": "2026-12-01T10:00:00"}, 422,
         "run_at_needs_offset"),
        ({**body, "segment_id": everyone, "reason": ""}, 400, "invalid_request"),
    ]  # fmt: skip
    for sent, status, code in cases:
        reply = await client.post(PATH, json=sent, headers=bearer(shop.admin_key))
        assert (reply.status_code, reply.json()["code"]) == (status, code), (sent, reply.text)
    support = await client.post(
        PATH, json={**body, "segment_id": everyone}, headers=bearer(shop.support_key)
    )
    assert support.status_code == 403
    assert (await client.get(PATH, headers=bearer(shop.admin_key))).json() == []
    assert await db.fetch("SELECT id FROM accrual_credit") == []
