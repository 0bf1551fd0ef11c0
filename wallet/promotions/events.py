"""What promotions tell the domains above them, inside the writing transaction
(published through ``wallet.platform.events``; webhooks listen)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class CouponIssued(msgspec.Struct, frozen=True):
    """A personal coupon was made for an account (a batch with ``account_ids``). Shared
    and unique-code batches belong to nobody until used, so they tell nothing here."""

    account_id: int
    promotion_id: int
    batch_id: int
    now: datetime


class CouponUsed(msgspec.Struct, frozen=True):
    """A receipt used a coupon (its promotion applied)."""

    account_id: int
    promotion_id: int
    batch_id: int
    coupon_id: int
    receipt_pk: int
    now: datetime
