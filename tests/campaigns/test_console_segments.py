"""Building segments with the console's form: OR groups into the filter the API keeps,
roubles not kopecks, Russian field errors keeping what was typed, the live count and sample,
editing, deleting (the offers that use it named), CSV export; on both databases."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import httpx

from tests.campaigns.test_campaigns import enrol
from tests.offers.support import make_offer
from tests.support.shop import Shop, bearer, line, make_key
from wallet import clock


async def console(client: httpx.AsyncClient) -> tuple[str, str]:
    key = await make_key("marketer")
    client.cookies.set("wallet_console", key, path="/console")
    page = await client.get("/console/segments/new")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return key, found.group(1)


async def shoppers(shop: Shop) -> dict[str, int]:
    """Anna spent 2,000 ₽ this month, Boris 500 ₽ long ago, Vera nothing but has 300 points."""
    anna = await enrol(shop, "Анна Щедрая", "anna@example.ru", consents={"marketing_email": True})
    boris = await enrol(shop, "Борис Давний", "boris@example.ru")
    vera = await enrol(shop, "=Вера Формула", "vera@example.ru")
    await shop.receipt(anna.card, "A1", [line(200_000)])
    await shop.receipt(boris.card, "B1", [line(50_000)], at=clock.now() - timedelta(days=200))
    await shop.give_points(vera.account_id, 300)
    return {"anna": anna.account_id, "boris": boris.account_id, "vera": vera.account_id}


async def test_a_form_with_or_groups_saves_the_filter_the_api_keeps(client):
    shop = await Shop.open(client)
    ids = await shoppers(shop)
    key, csrf = await console(client)
    made = await client.post(
        "/console/segments",
        data={
            "csrf": csrf,
            "name": "Щедрые или с баллами",
            # Group 1: spent at least 1 500 ₽ in the last 30 days and consented to email.
            "g0_window_days": "30",
            "g0_spend_min": "1 500",
            "g0_marketing_email": "yes",
            # OR group 2: at least 300 points.
            "g1_balance_min": "300",
            # The spare group left empty.
            "g2_balance_min": "",
        },
    )
    assert made.status_code == 303, made.text
    segment_id = int(made.headers["location"].rsplit("/", 1)[1])
    kept = await client.get(f"/api/v1/admin/segments/{segment_id}", headers=bearer(key))
    assert kept.json()["filter"] == {
        "any_of": [
            {"window_days": 30, "spend_min_kopecks": 150_000, "marketing_email": True},
            {"balance_min": 300},
        ]
    }
    counted = await client.get(f"/api/v1/admin/segments/{segment_id}/preview", headers=bearer(key))
    assert {s["account_id"] for s in counted.json()["sample"]} == {ids["anna"], ids["vera"]}

    # Editing shows the groups back, money in roubles.
    page = (await client.get(f"/console/segments/{segment_id}")).text
    assert 'name="g0_spend_min" value="1500"' in page
    assert 'name="g1_balance_min" value="300"' in page
    assert "Подходят: 2 покупателя" in page
    changed = await client.post(
        f"/console/segments/{segment_id}",
        data={"csrf": csrf, "name": "Давние", "g0_last_purchase": "before", "g0_last_days": "90"},
    )
    assert changed.status_code == 303
    kept = await client.get(f"/api/v1/admin/segments/{segment_id}", headers=bearer(key))
    assert kept.json()["name"] == "Давние"
    assert kept.json()["filter"] == {"last_purchase_before_days": 90}


async def test_a_wrong_field_is_said_in_russian_beside_it_and_what_was_typed_stays(client):
    shop = await Shop.open(client)
    await shoppers(shop)
    key, csrf = await console(client)
    refused = await client.post(
        "/console/segments",
        data={
            "csrf": csrf,
            "name": "Ошибки",
            "g0_balance_min": "много",
            "g0_spend_min": "12,345",
            "g0_purchases_min": "5",
            "g0_purchases_max": "2",
            "g0_tiers": "Платиновый-из-будущего",
            "g0_last_purchase": "within",
        },
    )
    assert refused.status_code == 422
    page = refused.text

    def error_of(name: str) -> str:
        found = re.search(rf'<p class="field-error" id="{name}-error"[^>]*>([^<]+)</p>', page)
        assert found, name
        return found.group(1)

    assert error_of("g0_balance_min") == "Введите целое число"
    assert error_of("g0_spend_min") == "Не больше двух знаков после запятой"
    assert error_of("g0_purchases_max") == "«До» меньше, чем «от»: проверьте число покупок"
    assert error_of("g0_tiers") == "Такого варианта нет в списке: обновите страницу"
    assert error_of("g0_last_days") == "Сколько дней назад?"
    assert 'name="g0_balance_min" value="много"' in page
    assert 'name="g0_spend_min" value="12,345"' in page
    assert 'value="Ошибки"' in page
    for parser_words in ("Expected", "Object contains", "is undefined", "regex", "Traceback"):
        assert parser_words not in page
    listed = await client.get("/api/v1/admin/segments", headers=bearer(key))
    assert listed.json() == []


async def test_the_live_count_shows_how_many_match_and_who(client):
    shop = await Shop.open(client)
    ids = await shoppers(shop)
    _key, csrf = await console(client)
    reply = await client.post(
        "/console/segments/preview",
        data={"csrf": csrf, "name": "", "g0_last_purchase": "within", "g0_last_days": "30"},
    )
    assert reply.status_code == 200, reply.text
    shown = reply.json()
    assert shown["count"] == 1 and shown["count_text"] == "Подходят: 1 покупатель"
    [anna] = shown["sample"]
    assert anna["name"] == "Анна Щедрая" and anna["balance"] > 0
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}", anna["last_purchase"])
    assert anna["card"]
    assert shown["filter"] == {"last_purchase_within_days": 30}
    assert ids

    wrong = await client.post(
        "/console/segments/preview", data={"csrf": csrf, "g0_balance_min": "-5"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"] == {"g0_balance_min": "Не меньше 0"}
    goals = await client.post(
        "/console/segments/preview",
        data={"csrf": csrf, "g0_goals": ["reached", "in_progress"], "g0_cashback": "yes"},
    )
    assert goals.json()["filter"] == {
        "cashback_opted_in": True,
        "goal_statuses": ["reached", "in_progress"],
    }
    assert goals.json()["count"] == 0
    forged = await client.post("/console/segments/preview", data={"g0_balance_min": "5"})
    assert forged.status_code == 403


async def test_a_segment_an_offer_uses_is_not_deleted_and_the_offer_is_named(client):
    shop = await Shop.open(client)
    key, csrf = await console(client)
    made = await client.post(
        "/console/segments", data={"csrf": csrf, "name": "Группа", "g0_balance_min": "1"}
    )
    segment_id = int(made.headers["location"].rsplit("/", 1)[1])
    await make_offer(shop, name="Кешбэк для своих", eligible_segment_ids=[segment_id])
    refused = await client.post(f"/console/segments/{segment_id}/delete", data={"csrf": csrf})
    assert refused.status_code == 409
    assert "по нему отбираются участники предложений «Кешбэк для своих»" in refused.text
    assert (
        await client.get(f"/api/v1/admin/segments/{segment_id}", headers=bearer(key))
    ).status_code == 200

    free = await client.post(
        "/console/segments", data={"csrf": csrf, "name": "Лишний", "g0_balance_min": "1"}
    )
    free_id = int(free.headers["location"].rsplit("/", 1)[1])
    gone = await client.post(f"/console/segments/{free_id}/delete", data={"csrf": csrf})
    assert gone.status_code == 303
    assert (
        await client.get(f"/api/v1/admin/segments/{free_id}", headers=bearer(key))
    ).status_code == 404


async def test_a_segment_exports_its_shoppers_as_csv_a_spreadsheet_opens(client):
    shop = await Shop.open(client)
    await shoppers(shop)
    _key, csrf = await console(client)
    made = await client.post(
        "/console/segments", data={"csrf": csrf, "name": "Все", "g0_balance_min": "0"}
    )
    segment_id = int(made.headers["location"].rsplit("/", 1)[1])
    reply = await client.get(f"/console/segments/{segment_id}/export")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    text = reply.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Карта", "Имя", "Почта", "Баланс, баллы", "Последняя покупка", "RFM"]
    names = sorted(row[1] for row in rows[1:])
    # A name that starts like a formula does not run as one.
    assert names == ["'=Вера Формула", "Анна Щедрая", "Борис Давний"]
    client.cookies.clear()
    assert (await client.get(f"/console/segments/{segment_id}/export")).status_code == 303


async def test_or_groups_through_the_api_and_a_group_inside_a_group_refused(client):
    shop = await Shop.open(client)
    ids = await shoppers(shop)
    key = await make_key("marketer")
    either = {
        "any_of": [
            {"balance_min": 300},
            {"never_purchased": False, "window_days": 30, "purchases_min": 1},
        ]
    }
    reply = await client.post(
        "/api/v1/admin/segments/preview?sample=10", json=either, headers=bearer(key)
    )
    assert reply.status_code == 200, reply.text
    assert {s["account_id"] for s in reply.json()["sample"]} == {ids["anna"], ids["vera"]}
    # Both: the OR groups and a condition beside them.
    both = {**either, "marketing_email": True}
    reply = await client.post(
        "/api/v1/admin/segments/preview?sample=10", json=both, headers=bearer(key)
    )
    assert {s["account_id"] for s in reply.json()["sample"]} == {ids["anna"]}
    nested = {"any_of": [{"any_of": [{"balance_min": 1}]}]}
    refused = await client.post(
        "/api/v1/admin/segments", json={"name": "Матрёшка", "filter": nested}, headers=bearer(key)
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["details"] == {"any_of": "nested"}
