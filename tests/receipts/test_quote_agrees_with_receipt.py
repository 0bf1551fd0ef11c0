"""The quote a till shows before payment and the receipt it then posts are priced alike:
for generated baskets, balances and points asked, on both databases."""

from __future__ import annotations

from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.shop import Shop, bearer, iso, line
from wallet import clock

SHOPS = count()

baskets = st.lists(
    st.builds(
        line,
        amount=st.one_of(st.integers(0, 5_000_000), st.sampled_from([1, 99, 100, 101])),
        category=st.sampled_from(["grocery", "household", "alcohol", "tobacco"]),
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=15,
    deadline=None,
    # One client for the examples; each example opens a store and a shopper of its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(basket=baskets, balance=st.integers(0, 50_000), asked=st.data())
async def test_the_receipt_redeems_and_earns_what_its_quote_said(client, basket, balance, asked):
    n = next(SHOPS)
    shop = await Shop.open(client, code=f"Q-{n}")
    shopper = await shop.enrol("Анна Смирнова", email=f"quote{n}@example.ru")
    if balance:
        await shop.give_points(shopper.account_id, balance)
    probe = await client.post(
        "/api/v1/pos/quotes",
        json={"card_number": shopper.card, "lines": basket},
        headers=bearer(shop.pos_key),
    )
    assert probe.status_code == 200, probe.text
    cap = probe.json()["max_redeem_points"]
    redeem = asked.draw(st.one_of(st.just(cap), st.integers(0, cap), st.just(cap + 1)))

    at = iso(clock.now())
    quote = await client.post(
        "/api/v1/pos/quotes",
        json={
            "card_number": shopper.card,
            "lines": basket,
            "redeem_points": redeem,
            "occurred_at": at,
        },
        headers=bearer(shop.pos_key),
    )
    receipt = await client.post(
        "/api/v1/pos/receipts",
        json={
            "receipt_id": f"Q{n}",
            "card_number": shopper.card,
            "occurred_at": at,
            "lines": basket,
            "redeem_points": redeem,
        },
        headers=bearer(shop.pos_key),
    )
    if redeem > cap:
        # Both refuse, with the same reason, and nothing was spent.
        assert quote.status_code == receipt.status_code == 422, (quote.text, receipt.text)
        assert quote.json() == receipt.json()
        assert (await shop.me(shopper))["balance"] == balance
        return
    assert quote.status_code == 200, quote.text
    assert receipt.status_code == 201, receipt.text
    said, done = quote.json(), receipt.json()
    for field in (
        "redeemed_points",
        "redeemed_kopecks",
        "paid_kopecks",
        "earned_points",
        "lines",
        "explanation",
    ):
        assert said[field] == done[field], field
    assert done["balance_after"] + done["pending_after"] == (
        balance - redeem + done["earned_points"]
    )
