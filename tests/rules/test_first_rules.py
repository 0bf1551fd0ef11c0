"""A new program has no rules until its first use makes the defaults: tills that post the
first receipts at once must all be answered, and exactly one first version is made."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.support.shop import Shop, bearer, iso, line
from wallet import clock, db
from wallet.rules import service as rules_service


async def test_the_first_receipts_of_a_new_program_at_once_all_pass_and_make_one_rules_version(
    client,
):
    shop = await Shop.open(client)
    shoppers = [await shop.enrol(f"Покупатель{n} Первый") for n in range(5)]
    # As on a program nobody has configured yet: no rules row, nothing cached.
    await db.raw("DELETE FROM program_rules")
    rules_service.forget_cache()

    async def quote(card: str) -> int:
        reply = await client.post(
            "/api/v1/pos/quotes",
            json={"card_number": card, "lines": [line(10_000)]},
            headers=bearer(shop.pos_key),
        )
        return reply.status_code

    async def receipt(card: str, n: int) -> int:
        reply = await client.post(
            "/api/v1/pos/receipts",
            json={
                "receipt_id": f"FIRST-{card}-{n}",
                "card_number": card,
                "occurred_at": iso(clock.now() - timedelta(seconds=1)),
                "lines": [line(10_000)],
                "redeem_points": 0,
            },
            headers=bearer(shop.pos_key),
        )
        return reply.status_code

    codes = await asyncio.gather(
        *(quote(s.card) for s in shoppers for _ in range(8)),
        *(receipt(s.card, n) for s in shoppers for n in range(2)),
    )
    assert codes == [200] * 40 + [201] * 10
    assert len(await db.raw("SELECT id FROM program_rules")) == 1
