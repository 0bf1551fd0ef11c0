"""Every account's lots and debt at each month end, and its totals then, so the liability
at a past moment is rebuilt from the last month end before it and what changed after it,
not the whole journal.

The worker's month-end job (``jobs.month_end``) records the month that just ended, once
(a marker row per month: a rerun writes nothing): its lots in one set-based statement
built on the month end recorded before it (or, for the first, on the whole journal), then
from those lots each account's totals (available, pending, debt) and the points by the
calendar month they expire in. ``wallet record-liability --since YYYY-MM`` fills in the
months before the job ran. Everything is read as it stood at the month's end, so the
record does not depend on when it is made.
"""

from __future__ import annotations

import logging
from datetime import datetime

from wallet import clock, db
from wallet import settings as settings_module
from wallet.ledger import queries

log = logging.getLogger("wallet.ledger")


def month_key(moment: datetime) -> str:
    local = moment.astimezone(settings_module.get().tz)
    return f"{local.year:04d}-{local.month:02d}"


def shift_month(key: str, months: int) -> str:
    year, month = (int(part) for part in key.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_end(key: str) -> datetime:
    """The instant the month ends (midnight of the next 1st in the program's zone), UTC."""
    year, month = (int(part) for part in shift_month(key, 1).split("-"))
    return clock.to_utc(datetime(year, month, 1, tzinfo=settings_module.get().tz))


async def record_month(month: str, *, now: datetime) -> int | None:
    """Record every account's live lots and debt at the end of ``month`` ("YYYY-MM", ended).
    Returns the rows written, or None when the month was recorded already."""
    end = month_end(month)
    if end > now:
        raise ValueError(f"{month} has not ended yet")
    async with db.write_transaction():
        started = await db.fetch(queries.START_LIABILITY_MONTH, month, end, now)
        if not started:
            return None
        last_entry = int(started[0]["last_entry"])
        await db.fetch(queries.MONTH_END_MEMORY)
        await db.fetch(queries.MONTH_END_NO_JIT)
        previous = await db.fetch(queries.PREVIOUS_LIABILITY_MONTH, end)
        if previous:
            before = previous[0]
            await db.fetch(
                queries.RECORD_LOTS_FROM_PREVIOUS,
                month,
                end,
                last_entry,
                before["month"],
                before["as_of"],
                int(before["last_entry"]),
            )
        else:
            await db.fetch(queries.RECORD_LOTS_FROM_JOURNAL, month, end, last_entry)
        await db.fetch(queries.RECORD_ACCOUNTS, month, end)
        await _record_expiry_months(month)
        rows = int((await db.fetch(queries.FINISH_LIABILITY_MONTH, month))[0]["rows"])
    if not db.is_sqlite():
        await db.fetch(queries.ANALYZE_LOT_MONTH_END)
        await db.fetch(queries.ANALYZE_TOTALS_MONTH_END)
    log.info("lots at the end of %s recorded: %s rows", month, rows)
    return rows


async def _record_expiry_months(month: str) -> None:
    """Month ``month``'s lots summed by the calendar month they expire in, each calendar
    month from the earliest expiry to the latest (its bounds in the program's zone, worked
    out here: SQLite has no time zones)."""
    span = await db.fetch(queries.LOT_EXPIRY_SPAN, month)
    if not span or span[0]["first"] is None:
        return
    expiry, last = month_key(span[0]["first"]), month_key(span[0]["last"])
    while expiry <= last:
        start = month_end(shift_month(expiry, -1))
        await db.fetch(queries.RECORD_EXPIRY_MONTH, month, expiry, start, month_end(expiry))
        expiry = shift_month(expiry, 1)


async def record_since(first: str, *, now: datetime) -> dict[str, int | None]:
    """Record every ended month from ``first`` on, oldest first (each built on the one
    before); the months already recorded are skipped."""
    done: dict[str, int | None] = {}
    month, current = first, month_key(now)
    while month < current:
        done[month] = await record_month(month, now=now)
        month = shift_month(month, 1)
    return done
