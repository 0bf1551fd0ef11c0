"""Promotions in the marketers' console over HTTP, on SQLite and PostgreSQL: the list with
live counters, the form (and what it says when it refuses), the simulation, activate /
pause / end, coupon batches and their one download."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from typing import Any

import httpx

from tests.pages.conftest import csrf_of
from tests.support.shop import Shop, bearer, line, make_key
from wallet import clock
from wallet import settings as settings_module

API = "/api/v1/admin/promotions"


def today() -> Any:
    return clock.local_date(clock.now(), settings_module.get().tz)


async def sign_in(client: httpx.AsyncClient) -> None:
    client.cookies.set("wallet_console", await make_key("marketer"), path="/console")


async def submit(client: httpx.AsyncClient, fields: dict[str, str]) -> httpx.Response:
    page = await client.get("/console/promotions/new")
    assert page.status_code == 200, page.text
    form = {"kind": "multiplier", "stacking": "stackable", **fields}
    return await client.post("/console/promotions", data={"csrf": csrf_of(page.text), **form})


async def act(
    client: httpx.AsyncClient, promotion_id: int, action: str, token: str | None = None
) -> httpx.Response:
    if token is None:
        token = csrf_of((await client.get(f"/console/promotions/{promotion_id}")).text)
    return await client.post(f"/console/promotions/{promotion_id}/{action}", data={"csrf": token})


def row_of(page: str, promotion_id: int) -> str:
    start = page.index(f'data-promotion="{promotion_id}"')
    return page[start : page.index("</tr>", start)]


def cell(row: str, name: str) -> str:
    found = re.search(rf'class="{name}">(.*?)</td>', row, re.S)
    assert found, row
    return html.unescape(found.group(1)).strip()


async def test_a_marketer_drafts_simulates_runs_pauses_and_ends_a_promotion(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова")
    await shop.receipt(anna.card, "OLD-1", [line(100_000, "dairy", "MILK"), line(40_000)])
    await sign_in(client)
    assert "Акций пока нет" in (await client.get("/console/promotions")).text

    day = today()
    saved = await submit(
        client,
        {
            "name": "Молочка ×2",
            "times": "2",
            "categories": "dairy",
            "starts_on": (day - timedelta(days=7)).isoformat(),
            "ends_on": (day + timedelta(days=7)).isoformat(),
            "budget_points": "10 000",
        },
    )
    assert saved.status_code == 303, saved.text
    promotion_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
    stored = (await client.get(f"{API}/{promotion_id}", headers=bearer(shop.admin_key))).json()
    assert stored["status"] == "draft"
    assert stored["definition"]["effects"] == [{"kind": "multiplier", "times": 2}]
    assert stored["definition"]["budget"]["points"] == 10_000

    # The last 30 days: Anna's dairy line earned 50 points, the promotion would add 50.
    page = await client.get(f"/console/promotions/{promotion_id}", params={"days": "30"})
    assert page.status_code == 200, page.text
    assert "черновик" in page.text
    assert re.search(r'id="sim-matched">1<', page.text)
    assert re.search(r'id="sim-points">50<', page.text)
    assert re.search(r'id="sim-shoppers">1<', page.text)
    refused_days = await client.get(f"/console/promotions/{promotion_id}", params={"days": "0"})
    assert refused_days.status_code == 422 and "от 1 до 366" in refused_days.text

    assert (await act(client, promotion_id, "activate")).status_code == 303
    after = await shop.receipt(anna.card, "NEW-1", [line(100_000, "dairy", "MILK")])
    assert after["earned_points"] == 100
    listed = (await client.get("/console/promotions")).text
    row = row_of(listed, promotion_id)
    assert cell(row, "status") == "действует"
    assert cell(row, "uses") == "1"
    assert cell(row, "points") == "50"
    assert cell(row, "budget").startswith("9\u00a0950\u00a0баллов")

    assert (await act(client, promotion_id, "pause")).status_code == 303
    paused = await shop.receipt(anna.card, "NEW-2", [line(100_000, "dairy", "MILK")])
    assert paused["earned_points"] == 50
    assert cell(row_of((await client.get("/console/promotions")).text, promotion_id), "status") == (
        "приостановлена"
    )
    token = csrf_of((await client.get(f"/console/promotions/{promotion_id}")).text)
    assert (await act(client, promotion_id, "end", token)).status_code == 303
    # An ended promotion offers no buttons; a stale form is refused in words.
    assert 'id="pause"' not in (await client.get(f"/console/promotions/{promotion_id}")).text
    again = await act(client, promotion_id, "pause", token)
    assert again.status_code == 303
    shown = await client.get(again.headers["location"])
    assert "Сейчас акция завершена" in shown.text
    stored = (await client.get(f"{API}/{promotion_id}", headers=bearer(shop.admin_key))).json()
    assert stored["status"] == "ended"


async def test_a_refused_form_says_what_is_wrong_by_each_field_and_keeps_what_was_typed(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова")
    await shop.receipt(anna.card, "OLD-1", [line(100_000, "dairy", "MILK")])
    await sign_in(client)
    day = today()

    bad = await submit(
        client,
        {
            "name": "",
            "times": "два",
            "categories": "вино-из-космоса",
            "starts_on": day.isoformat(),
            "ends_on": (day - timedelta(days=3)).isoformat(),
            "budget_points": "-5",
        },
    )
    assert bad.status_code == 422
    text = bad.text
    assert 'id="error-name">Дайте акции название' in text
    assert 'id="error-times">Множитель — целое число' in text
    assert 'id="error-ends_on">Акция кончается раньше, чем начинается' in text
    assert 'id="error-budget_points">Бюджет в баллах: от 1' in text
    assert 'value="два"' in text and 'value="вино-из-космоса"' in text
    # Nothing parser-shaped leaks to a marketer.
    assert "Expected" not in text and "$." not in text

    # The form is whole but names a category no receipt sold: the service's refusal lands
    # next to the field, in Russian.
    unknown = await submit(
        client, {"name": "Вино ×3", "times": "3", "categories": "вино-из-космоса"}
    )
    assert unknown.status_code == 422
    assert 'id="error-categories">Таких категорий ещё не было ни в одном чеке: вино-из-космоса' in (
        unknown.text
    )
    assert 'value="Вино ×3"' in unknown.text

    wrong_deal = await submit(
        client, {"name": "2 по цене 2", "kind": "n_for_m", "take": "2", "pay": "2"}
    )
    assert wrong_deal.status_code == 422 and 'id="error-pay">Платят меньше' in wrong_deal.text
    percent = await submit(client, {"name": "Скидка", "kind": "percent_off", "percent": "150"})
    assert (
        percent.status_code == 422 and 'id="error-percent">Скидку: от 0,01 до 100' in percent.text
    )

    forged = await client.post(
        "/console/promotions", data={"csrf": "x", "name": "Подделка", "kind": "multiplier"}
    )
    assert forged.status_code == 403
    listed = await client.get(API, headers=bearer(shop.admin_key))
    assert listed.json() == []
    client.cookies.clear()
    assert (await client.get("/console/promotions")).status_code == 303
    assert (await client.get("/console/promotions/new")).status_code == 303


async def test_each_common_kind_saves_from_the_form(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова")
    await shop.receipt(anna.card, "OLD-1", [line(100_000, "coffee", "LATTE")])
    await sign_in(client)
    cases: list[tuple[dict[str, str], dict[str, Any], list[dict[str, Any]]]] = [
        (
            {"kind": "rate", "rate_percent": "7,5", "skus": "LATTE"},
            {"kind": "rate", "rate_bp": 750},
            [{"kind": "lines", "categories": [], "skus": ["LATTE"], "brands": []}],
        ),
        (
            {"kind": "receipt_bonus", "points": "300", "min_total": "3 000"},
            {"kind": "receipt_bonus", "points": 300},
            [{"kind": "min_total", "kopecks": 300_000}],
        ),
        (
            {"kind": "percent_off", "percent": "10", "categories": "coffee", "coupon": "1"},
            {"kind": "percent_off", "percent_bp": 1000},
            [
                {"kind": "lines", "categories": ["coffee"], "skus": [], "brands": []},
                {"kind": "coupon"},
            ],
        ),
        (
            {"kind": "n_for_m", "take": "3", "pay": "2", "skus": "LATTE"},
            {"kind": "n_for_m", "take": 3, "pay": 2},
            [{"kind": "lines", "categories": [], "skus": ["LATTE"], "brands": []}],
        ),
    ]
    for number, (fields, effect, conditions) in enumerate(cases):
        reply = await submit(client, {"name": f"Акция {number}", **fields})
        assert reply.status_code == 303, (fields, reply.text)
        promotion_id = reply.headers["location"].split("/")[-1].split("?")[0]
        stored = (await client.get(f"{API}/{promotion_id}", headers=bearer(shop.admin_key))).json()
        assert stored["definition"]["effects"] == [effect]
        assert stored["definition"]["conditions"] == conditions


async def test_a_coupon_batch_is_made_in_the_console_and_downloads_once(client):
    shop = await Shop.open(client)
    anna = await shop.enrol("Анна Смирнова")
    await shop.receipt(anna.card, "OLD-1", [line(100_000, "coffee", "LATTE")])
    await sign_in(client)
    made = await submit(
        client,
        {
            "name": "Кофе −10% по купону",
            "kind": "percent_off",
            "percent": "10",
            "categories": "coffee",
            "coupon": "1",
        },
    )
    promotion_id = int(made.headers["location"].split("/")[-1].split("?")[0])
    page = await client.get(f"/console/promotions/{promotion_id}")
    assert "Купонов пока нет" in page.text
    token = csrf_of(page.text)
    assert re.search(r'id="created">Создал\(а\): [^<]+ \(маркетолог\), ', page.text)
    for typed in ("0", "много"):
        refused = await client.post(
            f"/console/promotions/{promotion_id}/coupons", data={"csrf": token, "count": typed}
        )
        assert refused.status_code == 422
        # Beside the field, what was typed kept.
        assert re.search(
            rf'name="count" value="{typed}" aria-invalid="true" aria-describedby="count-error">'
            r'\s*<p class="field-error" id="count-error" role="alert">'
            "Число купонов — целое, от 1 до 1\u00a0000\u00a0000</p>",
            refused.text,
        ), refused.text[refused.text.index('id="count"') - 200 :]
    reply = await client.post(
        f"/console/promotions/{promotion_id}/coupons", data={"csrf": token, "count": "5"}
    )
    assert reply.status_code == 303
    page = await client.get(f"/console/promotions/{promotion_id}")
    link = re.search(r'href="(/console/promotions/coupons/\d+/codes\.csv)"', page.text)
    assert link, page.text
    file = await client.get(link.group(1))
    assert file.status_code == 200 and file.headers["content-type"].startswith("text/csv")
    codes = [row[0] for row in csv.reader(io.StringIO(file.text))][1:]
    assert len(set(codes)) == 5
    assert (await client.get(link.group(1))).status_code == 410
    assert "скачан" in (await client.get(f"/console/promotions/{promotion_id}")).text

    await act(client, promotion_id, "activate")
    quote = await client.post(
        "/api/v1/pos/quotes",
        json={
            "card_number": anna.card,
            "lines": [line(10_000, "coffee", "LATTE")],
            "coupons": [codes[0]],
        },
        headers=bearer(shop.pos_key),
    )
    assert quote.status_code == 200, quote.text
    assert quote.json()["discount_kopecks"] == 1_000

    plain = await submit(client, {"name": "Без купона", "times": "2"})
    plain_id = int(plain.headers["location"].split("/")[-1].split("?")[0])
    # No coupon condition: no coupon form; a forged post is refused in Russian.
    page = await client.get(f"/console/promotions/{plain_id}")
    assert 'id="make-coupons"' not in page.text
    refused = await client.post(
        f"/console/promotions/{plain_id}/coupons", data={"csrf": token, "count": "5"}
    )
    assert "нет условия «по купону»" in (await client.get(refused.headers["location"])).text
