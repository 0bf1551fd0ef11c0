"""Time helpers: storage is timezone-aware UTC; the program's zone decides calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def now() -> datetime:
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    """Aware UTC. A naive time is refused: a till that sends one must say its offset."""
    if moment.tzinfo is None:
        raise ValueError("time without a UTC offset")
    return moment.astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """The same wall-clock day ``months`` later, clamped to the month's last day
    (31 August + 6 months = 28/29 February), as shoppers read "valid 6 months"."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, _days_in_month(year, month))
    return moment.replace(year=year, month=month, day=day)


def _days_in_month(year: int, month: int) -> int:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return (first_next - timedelta(days=1)).day


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()
