"""What the worker runs for promotions: a big coupon batch made in chunks (see
``coupons.BACKGROUND_FROM``), each chunk in its own transaction so the tills are never
held behind a million inserts and a crash resumes where it stopped."""

from __future__ import annotations

from typing import Any

from wallet import db
from wallet.platform.worker import register
from wallet.promotions import coupons


async def make_batch(payload: dict[str, Any]) -> None:
    batch_id = int(payload["batch_id"])
    done = False
    while not done:
        async with db.write_transaction():
            done = await coupons.make_chunk(batch_id)


register(coupons.MAKE_BATCH, make_batch)
