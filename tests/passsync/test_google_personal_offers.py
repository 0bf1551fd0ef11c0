"""Personal promotions and coupons on the Google pass, as on the Apple pass's back: a
personal code issued to a shopper reaches the Google object (checked against Google's
schema by the stand-in) without waiting for their next receipt, and leaves it once used."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.passsync.conftest import local
from tests.support.shop import Shop, Shopper, bearer, iso, line
from wallet import clock
from wallet.platform import worker

PROMOTIONS = "/api/v1/admin/promotions"
DEAL = {
    "name": "Кофе −20%",
    "conditions": [{"kind": "coupon"}, {"kind": "lines", "categories": ["coffee"]}],
    "effects": [{"kind": "percent_off", "percent_bp": 2000}],
}


async def _saved_object(shop: Shop, shopper: Shopper, google: Any) -> dict[str, Any]:
    me = await shop.me(shopper)
    reply = await shop.client.get(local(me["links"]["google_save"]))
    assert reply.status_code == 302, reply.text
    await worker.run_until_idle()
    [found] = [o for o in google.objects.values() if o.get("accountId") == shopper.card]
    return found  # type: ignore[no-any-return]


def _offers(obj: dict[str, Any]) -> str | None:
    modules = {m["id"]: m for m in obj.get("textModulesData", [])}
    return modules["personal_offers"]["body"] if "personal_offers" in modules else None


async def test_a_personal_coupon_reaches_the_google_object_and_leaves_it_once_used(client, wallets):
    shop = await Shop.open(client)
    seeder = await shop.enrol("Сид Сидоров")
    await shop.receipt(seeder.card, "SEED", [line(100, "coffee", "LATTE")])
    created = await client.post(PROMOTIONS, json=DEAL, headers=bearer(shop.admin_key))
    deal = created.json()
    moved = await client.post(f"{PROMOTIONS}/{deal['id']}/activate", headers=bearer(shop.admin_key))
    assert moved.status_code == 200, moved.text
    anna = await shop.enrol("Анна Смирнова")
    google = wallets.google
    obj = await _saved_object(shop, anna, google)
    assert _offers(obj) is None

    batch = await client.post(
        f"{PROMOTIONS}/{deal['id']}/coupons",
        json={"account_ids": [anna.account_id]},
        headers=bearer(shop.admin_key),
    )
    assert batch.status_code == 201, batch.text
    await worker.run_until_idle()
    shown = _offers(google.objects[obj["id"]])
    assert shown is not None and shown.startswith("Кофе −20%: скидка 20%, на coffee. Промокод ")
    code = shown.rsplit(" ", 1)[1]
    assert google.problems == []

    used = await client.post(
        "/api/v1/pos/receipts",
        json={
            "receipt_id": "P1",
            "card_number": anna.card,
            "occurred_at": iso(clock.now() - timedelta(seconds=1)),
            "lines": [line(10_000, "coffee", "LATTE")],
            "coupons": [code],
        },
        headers=bearer(shop.pos_key),
    )
    assert used.status_code == 201, used.text
    assert used.json()["discount_kopecks"] == 2_000
    await worker.run_until_idle()
    assert _offers(google.objects[obj["id"]]) is None
    assert google.problems == []
