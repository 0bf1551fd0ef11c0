"""A campaign's outcome against its held-out control group, through the admin API on both
databases: who is held out (the hash, recorded when the campaign starts), that they are sent
nothing on any channel, and what the report says about what each group bought."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import zipfile
from datetime import timedelta
from statistics import NormalDist
from typing import Any

from tests.campaigns.test_campaigns import campaign, enrol, figures
from tests.support.shop import Shop, bearer, line, make_key
from wallet import clock, db
from wallet import settings as settings_module
from wallet.campaigns import holdout
from wallet.platform import worker
from wallet.reports import stats

YES = {"marketing_email": True, "marketing_push": True}


async def _shoppers(shop: Shop, count: int) -> list[Any]:
    """``count`` shoppers who said yes to email and push (one address enrols them all: the
    per-address limit of strangers is off, as for a shop's staff at the till)."""
    settings_module.override(dataclasses.replace(settings_module.get(), enrol_limit_per_ip=0))
    return [
        await enrol(shop, f"Покупатель {n}", f"p{n}@example.ru", consents=YES) for n in range(count)
    ]


async def _report(client: Any, key: str, campaign_id: int, **params: Any) -> dict[str, Any]:
    reply = await client.get(
        f"/api/v1/admin/reports/campaigns/{campaign_id}", params=params, headers=bearer(key)
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def _sent(client: Any, key: str, **fields: Any) -> dict[str, Any]:
    created = await campaign(client, key, **fields)
    sent = await client.post(f"/api/v1/admin/campaigns/{created['id']}/send", headers=bearer(key))
    assert sent.status_code == 200, sent.text
    await worker.run_until_idle()
    return created


async def _rows(campaign_id: int) -> list[dict[str, Any]]:
    return await db.raw(
        "SELECT account_id, channel, status, reason FROM delivery WHERE campaign_id = {}",
        campaign_id,
    )


async def test_the_held_out_are_drawn_by_the_hash_and_sent_nothing_on_any_channel(
    client, smtp_sink
):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    people = await _shoppers(shop, 16)
    refuser = await enrol(shop, "Без согласия", "no@example.ru")
    created = await _sent(
        client, key, channels=["email", "push"], push_text="Скидки", holdout_bp=5000
    )
    cid = created["id"]

    everyone = [p.account_id for p in people] + [refuser.account_id]
    expected = {a for a in everyone if holdout.bucket(cid, a) < 5000}
    assert 0 < len(expected) < len(everyone), "the draw splits the audience"
    rows = await _rows(cid)
    held = {r["account_id"] for r in rows if r["status"] == holdout.HELD_OUT}
    # The same hash in SQL (both engines) and in Python.
    assert held == expected
    # Held out on every channel at once, and nothing of theirs was ever sent.
    for row in rows:
        assert (row["status"] == holdout.HELD_OUT) == (row["account_id"] in expected), row
    emails = {p.account_id: f"p{n}@example.ru" for n, p in enumerate(people)}
    mailed = sorted(m["To"] for m in smtp_sink.messages)
    assert mailed == sorted(emails[a] for a in emails if a not in expected)
    # A held-out row still says whether it would have gone (the refuser would not).
    if refuser.account_id in expected:
        [mine] = [
            r for r in rows if r["account_id"] == refuser.account_id and r["channel"] == "email"
        ]
        assert mine["reason"] == "no_consent"

    found = await figures(client, key, cid)
    assert found["holdout_bp"] == 5000
    email = next(f for f in found["figures"] if f["channel"] == "email")
    assert email["targeted"] == len(everyone) - len(expected)
    assert email["sent"] == len([a for a in emails if a not in expected])
    assert found["status"] == "sent"  # held-out rows do not keep a campaign open


async def test_recipients_who_bought_more_show_an_uplift_with_its_interval(client, smtp_sink):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    people = await _shoppers(shop, 84)
    created = await _sent(client, key, holdout_bp=5000)
    cid = created["id"]
    held = [p for p in people if holdout.bucket(cid, p.account_id) < 5000]
    sent = [p for p in people if holdout.bucket(cid, p.account_id) >= 5000]
    assert min(len(held), len(sent)) >= 35, "the draw leaves both groups big enough"

    # The campaign went out ten days ago.
    now = clock.now()
    await db.raw("UPDATE campaign SET started_at = {} WHERE id = {}", now - timedelta(days=10), cid)
    # Every recipient but six bought once in the window (1,000 ₽); eight of the held-out did
    # (500 ₽). Receipts before the start and after a 7-day window do not count.
    for n, p in enumerate(sent[6:]):
        await shop.receipt(p.card, f"S{n}", [line(100_000)], at=now - timedelta(days=5))
    for n, p in enumerate(held[:8]):
        await shop.receipt(p.card, f"H{n}", [line(50_000)], at=now - timedelta(days=5))
    await shop.receipt(held[9].card, "EARLY", [line(70_000)], at=now - timedelta(days=12))
    await shop.receipt(held[10].card, "LATE", [line(70_000)], at=now - timedelta(hours=1))

    report = await _report(client, key, cid, window_days=7)
    assert report["complete"] is True and report["window_days"] == 7
    r, h = report["recipients"], report["held_out"]
    assert (r["shoppers"], r["buyers"], r["receipts"]) == (len(sent), len(sent) - 6, len(sent) - 6)
    assert r["revenue_kopecks"] == 100_000 * (len(sent) - 6)
    assert (h["shoppers"], h["buyers"], h["receipts"], h["revenue_kopecks"]) == (
        len(held),
        8,
        8,
        400_000,
    )
    assert r["points"] > 0 and h["points"] > 0

    metrics = {m["metric"]: m for m in report["metrics"]}
    share = metrics["buyers_share"]
    p1, p2 = (len(sent) - 6) / len(sent), 8 / len(held)
    z = NormalDist().inv_cdf(0.975)
    half = z * math.sqrt(p1 * (1 - p1) / len(sent) + p2 * (1 - p2) / len(held))
    assert share["method"] == "two_proportion_wald"
    assert math.isclose(share["difference"], p1 - p2, abs_tol=1e-6)
    assert math.isclose(share["ci_low"], p1 - p2 - half, abs_tol=1e-6)
    assert math.isclose(share["ci_high"], p1 - p2 + half, abs_tol=1e-6)
    assert share["enough"] and share["significant"]
    revenue = metrics["revenue_per_shopper_kopecks"]
    assert revenue["method"] == "welch_t" and revenue["ci_low"] > 0 and revenue["significant"]
    assert math.isclose(revenue["held_out"], 400_000 / len(held), abs_tol=1e-3)
    assert report["verdict"] == "uplift"
    assert "more often" in report["note"]

    # The default 14 days reach the last hour's receipt too; 20 days are still running.
    wider = await _report(client, key, cid)
    assert wider["held_out"]["receipts"] == 9
    running = await _report(client, key, cid, window_days=20)
    assert running["complete"] is False and "partial" in running["note"]


async def test_a_small_audience_is_too_small_to_tell_and_none_held_out_has_no_control(
    client, smtp_sink
):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    people = await _shoppers(shop, 8)
    for n, p in enumerate(people):
        await shop.receipt(p.card, f"R{n}", [line(10_000)])
    small = await _sent(client, key, holdout_bp=5000)
    await shop.receipt(people[0].card, "AFTER", [line(10_000)])
    report = await _report(client, key, small["id"])
    assert report["verdict"] == "too_small"
    assert report["note"].startswith("Too small to tell")
    assert not any(m["enough"] or m["significant"] for m in report["metrics"])
    assert report["recipients"]["shoppers"] + report["held_out"]["shoppers"] == 8

    everyone = await _sent(client, key, name="Без контрольной группы")
    plain = await _report(client, key, everyone["id"])
    assert plain["verdict"] == "no_control_group"
    assert plain["held_out"]["shoppers"] == 0 and plain["recipients"]["shoppers"] == 8


async def test_unknown_unsent_and_bad_windows_are_refused(client, smtp_sink):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    await enrol(shop, "Покупатель", "p@example.ru", consents=YES)
    draft = await campaign(client, key, holdout_bp=1000)
    url = "/api/v1/admin/reports/campaigns/{}"

    missing = await client.get(url.format(draft["id"] + 1000), headers=bearer(key))
    assert missing.status_code == 404 and missing.json()["code"] == "campaign_not_found"
    unsent = await client.get(url.format(draft["id"]), headers=bearer(key))
    assert unsent.status_code == 422 and "not been sent" in unsent.json()["message"]
    sent = await _sent(client, key, holdout_bp=1000)
    for days in (0, 91, -3):
        bad = await client.get(
            url.format(sent["id"]), params={"window_days": days}, headers=bearer(key)
        )
        assert bad.status_code == 422, (days, bad.text)
        assert bad.json()["details"]["max_days"] == 90
    pos = await make_key("pos", "MSK-001")
    assert (await client.get(url.format(sent["id"]), headers=bearer(pos))).status_code == 403
    too_much = await client.post(
        "/api/v1/admin/campaigns", json={"name": "x", "holdout_bp": 5001}, headers=bearer(key)
    )
    assert too_much.status_code == 400


async def test_the_outcome_exports_as_csv_and_xlsx_with_russian_headers(client, smtp_sink):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    people = await _shoppers(shop, 6)
    created = await _sent(client, key, holdout_bp=5000)
    for n, p in enumerate(people):
        await shop.receipt(p.card, f"R{n}", [line(12_345)])
    report = await _report(client, key, created["id"])
    url = f"/api/v1/admin/reports/campaigns/{created['id']}"

    reply = await client.get(url, params={"format": "csv"}, headers=bearer(key))
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    # Several tables in one CSV: the first column names the table of each row.
    header = next(r for r in rows if r[:2] == ["Раздел", "Группа"])
    recipients = next(r for r in rows if r[:2] == ["Группы", "Получатели"])
    assert recipients[header.index("Покупателей")] == str(report["recipients"]["shoppers"])
    revenue = report["recipients"]["revenue_kopecks"] / 100
    assert recipients[header.index("Выручка, ₽")] == f"{revenue:.2f}"
    share = next(r for r in rows if r[:2] == ["Сравнение", "Доля купивших"])
    assert share[2] == "разность долей (Вальд)"

    book = await client.get(url, params={"format": "xlsx"}, headers=bearer(key))
    assert book.status_code == 200
    with zipfile.ZipFile(io.BytesIO(book.content)) as archive:
        names = archive.namelist()
        assert "xl/worksheets/sheet2.xml" in names
        # Strings are written inline (xlsxwriter's constant-memory mode).
        groups = archive.read("xl/worksheets/sheet1.xml").decode()
        compared = archive.read("xl/worksheets/sheet2.xml").decode()
    assert "Контрольная группа" in groups and "разность долей (Вальд)" in compared


async def test_the_console_page_shows_the_verdict_the_numbers_and_the_uplift_chart(
    client, smtp_sink
):
    shop = await Shop.open(client)
    key = await make_key("marketer")
    await _shoppers(shop, 6)
    created = await _sent(client, key, holdout_bp=5000)
    page_url = f"/console/reports/campaigns/{created['id']}"
    assert (await client.get(page_url)).status_code == 303
    client.cookies.set("wallet_console", key, path="/console")

    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    assert "Аудитория слишком мала, чтобы сказать" in page.text
    assert "Доля купивших" in page.text and "Контрольная группа" in page.text
    assert "<svg" in page.text and "<script" not in page.text
    assert (await client.get(page_url, params={"window_days": "91"})).status_code == 422
    assert (await client.get(page_url, params={"window_days": "две"})).status_code == 422
    assert (await client.get(f"/console/reports/campaigns/{created['id'] + 99}")).status_code == 404
    file = await client.get(page_url, params={"format": "xlsx"})
    assert file.status_code == 200 and file.content[:2] == b"PK"


def test_the_t_quantile_matches_the_table():
    # Student's t, two-sided 95%: the printed table's values.
    for df, table in ((10, 2.228), (30, 2.042), (60, 2.000), (120, 1.980), (1e9, 1.960)):
        assert math.isclose(stats.t_quantile(df), table, abs_tol=0.001), df


def test_welch_interval_matches_a_worked_example():
    # Two groups given as sums: 1..30 and 3..32 (means 15.5 and 17.5, equal spread).
    first, second = list(range(1, 31)), list(range(3, 33))
    found = stats.means(
        sum(first), sum(x * x for x in first), 30, sum(second), sum(x * x for x in second), 30
    )
    # var = 77.5 each; se = sqrt(77.5/30*2) = 2.2730; df = 58; t = 2.0017.
    assert math.isclose(found.difference, -2.0)
    assert math.isclose(found.high - found.difference, 2.0017 * 2.2730, rel_tol=1e-3)
    assert found.enough and not found.excludes_zero


async def test_the_console_sets_the_control_group_in_percent_and_links_the_outcome(
    client, smtp_sink
):
    import re

    shop = await Shop.open(client)
    key = await make_key("marketer")
    await _shoppers(shop, 3)
    client.cookies.set("wallet_console", key, path="/console")
    new = await client.get("/console/campaigns/new")
    csrf = re.search(r'name="csrf" value="([^"]+)"', new.text).group(1)
    form = {"csrf": csrf, "name": "Весна", "channel_email": "1", "subject": "Весна"}

    for bad in ("много", "51", "nan"):
        refused = await client.post("/console/campaigns", data={**form, "holdout_percent": bad})
        assert refused.status_code != 303, bad
    created = await client.post("/console/campaigns", data={**form, "holdout_percent": "12.5"})
    assert created.status_code == 303, created.text
    campaign_id = int(created.headers["location"].rstrip("/").rsplit("/", 1)[-1])
    assert (await figures(client, key, campaign_id))["holdout_bp"] == 1250
    page = await client.get(created.headers["location"])
    assert 'name="holdout_percent"' in page.text and 'value="12.5"' in page.text
    assert f"/console/reports/campaigns/{campaign_id}" not in page.text  # not sent yet

    sent = await client.post(f"/api/v1/admin/campaigns/{campaign_id}/send", headers=bearer(key))
    assert sent.status_code == 200
    await worker.run_until_idle()
    page = await client.get(created.headers["location"])
    assert f"/console/reports/campaigns/{campaign_id}" in page.text
