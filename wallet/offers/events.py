"""What offers tell the domains above them (published through ``wallet.platform.events``;
webhooks listen)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class CashbackSettled(msgspec.Struct, frozen=True):
    """One account's month of a cashback offer was settled: reached (``reward_points``
    credited) or missed. Published by the job that tells shoppers the outcome, in the
    transaction that marks the row told, so once per account and month."""

    account_id: int
    offer_id: int
    month: str
    outcome: str
    reward_points: int
    goal_kopecks: int
    spent_kopecks: int
    now: datetime
