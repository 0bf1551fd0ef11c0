"""A segment a campaign not sent yet or a live promotion uses is not deleted, and the
console names them: a draft or scheduled campaign whose segment vanished had no audience
(its page said "no segment 5", its send confirmation answered raw JSON), and a
promotion's refusal named nobody («…предложений .»); on both databases."""

from __future__ import annotations

from tests.campaigns.test_campaigns import campaign
from tests.campaigns.test_console_segments import console
from tests.promotions.test_promotions_api import promo
from tests.support.shop import Shop, bearer


async def _segment(client, key: str, name: str) -> int:
    made = await client.post(
        "/api/v1/admin/segments",
        json={"name": name, "filter": {"balance_min": 0}},
        headers=bearer(key),
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def test_a_segment_a_campaign_will_send_to_is_kept_and_the_campaign_named(client):
    await Shop.open(client)
    key, csrf = await console(client)
    segment_id = await _segment(client, key, "Весенние")
    draft = await campaign(client, key, name="Весна", segment_id=segment_id)

    api = await client.delete(f"/api/v1/admin/segments/{segment_id}", headers=bearer(key))
    assert api.status_code == 409 and api.json()["code"] == "segment_in_use"
    assert api.json()["details"]["campaign_names"] == ["Весна"]
    refused = await client.post(f"/console/segments/{segment_id}/delete", data={"csrf": csrf})
    assert refused.status_code == 409
    assert "Сегмент не удалён: по нему отбираются получатели кампаний «Весна»" in refused.text
    page = await client.get(f"/console/campaigns/{draft['id']}")
    assert page.status_code == 200 and "no segment" not in page.text

    # Once cancelled, the campaign no longer needs it.
    cancelled = await client.post(
        f"/api/v1/admin/campaigns/{draft['id']}/cancel", headers=bearer(key)
    )
    assert cancelled.status_code == 200, cancelled.text
    gone = await client.post(f"/console/segments/{segment_id}/delete", data={"csrf": csrf})
    assert gone.status_code == 303


async def test_a_segment_a_live_promotion_uses_names_the_promotion_in_the_console(client):
    shop = await Shop.open(client)
    _key, csrf = await console(client)
    segment_id = await _segment(client, shop.admin_key, "Пенсионеры")
    await promo(
        shop,
        {
            "name": "Пенсионерам ×2",
            "conditions": [{"kind": "segments", "ids": [segment_id]}],
            "effects": [{"kind": "multiplier", "times": 2}],
        },
    )
    refused = await client.post(f"/console/segments/{segment_id}/delete", data={"csrf": csrf})
    assert refused.status_code == 409
    assert "по нему отбираются покупатели акций «Пенсионерам ×2»" in refused.text
