"""Ending an offer early moves its end date to now, never later: an offer whose date has
already passed keeps the date its shoppers and the accountant were given."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.offers.support import make_offer
from tests.support.shop import Shop, bearer, make_key
from wallet import clock


async def test_ending_an_offer_pulls_a_future_end_to_now_and_keeps_a_past_one(client):
    shop = await Shop.open(client)
    marketer = await make_key("marketer")
    passed = await make_offer(shop, ends_at=(clock.now() - timedelta(days=10)).isoformat())
    running = await make_offer(
        shop, name="До конца года", ends_at=(clock.now() + timedelta(days=30)).isoformat()
    )

    before = clock.now()
    for offer in (passed, running):
        reply = await client.post(
            f"/api/v1/admin/offers/{offer['id']}/end", headers=bearer(marketer)
        )
        assert reply.status_code == 200, reply.text
        offer["after"] = reply.json()
    after = clock.now()
    assert passed["after"]["ends_at"] == passed["ends_at"]
    assert passed["after"]["status"] == running["after"]["status"] == "ended"
    assert before <= datetime.fromisoformat(running["after"]["ends_at"]) <= after
