"""Fill ``account_spend_month`` (the ledger's spend per month) from the receipts and
returns already posted, so a program that switches its tiers to a rolling window or a
calendar period counts the spend made before this release.

Money paid counts in the month of the sale (program time zone), minus what its returns
gave back in money, on the account the card is on today (an activated plastic card's
spend followed it). Runs once, on an empty table; the till keeps it from then on.
"""

from collections import defaultdict
from datetime import datetime
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T22:43:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "fill account_spend_month from receipts"


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="receipts", description=DESCRIPTION)

    async def fill() -> None:
        from wallet import clock, settings
        from wallet.receipts.tables import Receipt

        zone = settings.get().tz
        rows = await Receipt.raw(
            "SELECT c.account AS account_id, r.occurred_at, r.paid_kopecks, "
            "COALESCE((SELECT SUM(l.returned_kopecks - l.returned_redeemed_kopecks) "
            "FROM receipt_line l WHERE l.receipt = r.id), 0) AS refunded "
            "FROM receipt r JOIN card c ON c.id = r.card"
        )
        totals: dict[tuple[int, str], int] = defaultdict(int)
        for row in rows:
            month = clock.local_date(clock.to_utc(_moment(row["occurred_at"])), zone)
            key = (int(row["account_id"]), month.strftime("%Y-%m"))
            totals[key] += int(row["paid_kopecks"]) - int(row["refunded"])
        for (account_id, month), kopecks in sorted(totals.items()):
            await Receipt.raw(
                "INSERT INTO account_spend_month (spend_key, account_id, month, spent_kopecks) "
                "VALUES ({}, {}, {}, {})",
                f"{account_id}:{month}",
                account_id,
                month,
                kopecks,
            )

    async def empty() -> None:
        from wallet.receipts.tables import Receipt

        await Receipt.raw("DELETE FROM account_spend_month")

    manager.add_raw(fill)
    manager.add_raw_backwards(empty)
    return manager
