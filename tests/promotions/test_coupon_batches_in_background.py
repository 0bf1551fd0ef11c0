"""A big coupon batch is made by the worker, in chunks, on SQLite and PostgreSQL: the
request answers 202 at once, the codes download once when ready, and a worker that dies
between chunks resumes without making a code twice or losing one."""

from __future__ import annotations

import csv
import io

from tests.promotions.test_coupons_api import COUPON_DEAL, coupons, promo, seed
from tests.support.shop import Shop, bearer, line
from wallet import db
from wallet.platform import worker
from wallet.promotions import coupons as coupon_codes

PATH = "/api/v1/admin/promotions"


async def test_a_big_batch_is_made_in_the_background_and_resumes_after_a_crash(client, monkeypatch):
    monkeypatch.setattr(coupon_codes, "BACKGROUND_FROM", 20)
    monkeypatch.setattr(coupon_codes, "_UNIQUE_CHUNK", 10)
    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    reply = await client.post(
        f"{PATH}/{deal['id']}/coupons", json={"count": 25}, headers=bearer(shop.admin_key)
    )
    assert reply.status_code == 202, reply.text
    batch = reply.json()
    assert batch["status"] == "making" and batch["csv_url"] is None and batch["count"] == 25
    early = await client.get(
        f"{PATH}/coupons/{batch['id']}/codes.csv", headers=bearer(shop.admin_key)
    )
    assert early.status_code == 409 and early.json()["code"] == "codes_not_ready"

    # One chunk commits, then the worker dies: ten codes stored, their lines kept.
    async with db.write_transaction():
        assert await coupon_codes.make_chunk(batch["id"]) is False
    listed = await client.get(f"{PATH}/{deal['id']}/coupons", headers=bearer(shop.admin_key))
    assert listed.json()[0]["status"] == "making"
    await worker.run_until_idle()

    [ready] = (
        await client.get(f"{PATH}/{deal['id']}/coupons", headers=bearer(shop.admin_key))
    ).json()
    assert ready["status"] == "ready" and ready["csv_url"]
    file = await client.get(ready["csv_url"], headers=bearer(shop.admin_key))
    assert file.status_code == 200
    codes = [row[0] for row in csv.reader(io.StringIO(file.text))][1:]
    assert len(codes) == 25 and len(set(codes)) == 25
    stored = await db.fetch("SELECT COUNT(*) AS n FROM coupon WHERE batch_id = $1", batch["id"])
    assert stored[0]["n"] == 25
    assert (await client.get(ready["csv_url"], headers=bearer(shop.admin_key))).status_code == 410

    # Every line of the file is a code the till takes: the first and the one made last.
    anna = await shop.enrol()
    for number, code in enumerate((codes[0], codes[-1])):
        sold = await shop.client.post(
            "/api/v1/pos/quotes",
            json={
                "card_number": anna.card,
                "lines": [line(10_000, "coffee", "LATTE")],
                "coupons": [code],
            },
            headers=bearer(shop.pos_key),
        )
        assert sold.json()["discount_kopecks"] == 2_000, (number, sold.text)


async def test_a_small_batch_is_still_made_in_the_request(client):
    shop = await Shop.open(client)
    await seed(shop, line(100, "coffee", "LATTE"))
    deal = await promo(shop, COUPON_DEAL)
    batch = await coupons(shop, deal["id"], {"count": 50})
    assert batch["status"] == "ready" and batch["csv_url"]
