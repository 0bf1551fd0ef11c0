"""What the ledger tells the domains above it, inside the unit of work's transaction
(published through ``wallet.platform.events``; webhooks listen)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class PointsChanged(msgspec.Struct, frozen=True):
    """An account's points moved in one unit of work (a receipt, a return, an adjustment,
    a bonus, expiry on entering it): its totals after, and how much each moved. The
    set-based credits (``ledger.bulk``: the month-end cashback, an import's opening
    balances) do not pass through here: they publish ``PointsCreditedInBulk``, the same
    facts for a whole set at once."""

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


# The columns of ``PointsCreditedInBulk.rows``: ``PointsChanged``'s fields, one row each.
POINTS_CHANGED_COLUMNS = (
    "account_id",
    "balance",
    "pending",
    "debt",
    "balance_change",
    "pending_change",
    "debt_change",
)


class PointsCreditedInBulk(msgspec.Struct, frozen=True):
    """A set-based credit (``ledger.bulk``: the month-end cashback, an import's opening
    balances) moved many accounts' points in the caller's transaction, past the door that
    publishes ``PointsChanged``.
    ``rows`` is a SELECT (its arguments ``args`` are its ``$1..$n``) giving, per account
    credited, ``PointsChanged``'s fields as the columns ``POINTS_CHANGED_COLUMNS``: a
    subscriber reads it set-based (``INSERT ... SELECT``), never account by account, and
    only if it wants it (most runs have nobody listening and pay nothing)."""

    rows: str
    args: tuple[Any, ...]
    now: datetime
