"""Bulk and scheduled accruals over HTTP: what a marketer sends and sees."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from wallet import inputs

# Credit (above 0) or debit (below 0) per shopper; 0 changes nothing and is refused.
SignedPoints = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
Repeat = Literal["once", "monthly"]
Status = Literal["scheduled", "running", "done", "cancelled"]


class AccrualPreviewIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    segment_id: inputs.Id
    points: SignedPoints


class AccrualPreviewOut(msgspec.Struct, frozen=True):
    """Who a run would reach now and what it would cost (``points`` times shoppers, and
    their value in kopecks at the rules' point value; a debit's figures are negative)."""

    segment_id: int
    shoppers: int
    points_total: int
    cost_kopecks: int


class AccrualIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Credit or debit every account of a saved segment: ``points`` each (a credit is a lot
    valid ``valid_days``), with a ``reason`` on every journal entry; at ``run_at`` (now if
    omitted), once or monthly."""

    name: inputs.Name
    segment_id: inputs.Id
    points: SignedPoints
    reason: inputs.Reason
    valid_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 30
    run_at: datetime | None = None
    repeat: Repeat = "once"
    # Email each moved shopper who consented to marketing email.
    notify_email: bool = False


class AccrualOut(msgspec.Struct, frozen=True):
    id: int
    name: str
    segment_id: int
    points: int
    valid_days: int
    reason: str
    repeat: Repeat
    notify_email: bool
    status: Status
    next_run_at: datetime | None
    runs: int
    last_run_at: datetime | None
    # Accounts moved and points moved, over every run so far.
    credited_accounts: int
    credited_points: int
    created_by: str
    created_at: datetime
