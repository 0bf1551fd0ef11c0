"""What the ledger tells the domains above it, inside the unit of work's transaction
(published through ``wallet.platform.events``; webhooks listen)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class PointsChanged(msgspec.Struct, frozen=True):
    """An account's points moved in one unit of work (a receipt, a return, an adjustment,
    a bonus, expiry on entering it): its totals after, and how much each moved. The
    month-end cashback's set-based credit (``ledger.bulk``) does not pass through here."""

    account_id: int
    balance: int
    pending: int
    debt: int
    balance_change: int
    pending_change: int
    debt_change: int
    now: datetime


class TierChanged(msgspec.Struct, frozen=True):
    """A unit of work that moved the account's spend (a receipt, a return) moved its tier.
    A tier that drops as months leave a rolling window, with no write, tells nothing."""

    account_id: int
    tier_before: str
    tier: str
    lifetime_spend_kopecks: int
    now: datetime
