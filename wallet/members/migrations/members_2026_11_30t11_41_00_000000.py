"""Phones in E.164: "8 (912) 345-67-89", "79123456789" and "+79123456789" were stored as
typed, so one shopper could join twice and a lookup by phone missed them. Every phone
``wallet.phones`` can read becomes its E.164 form; one it cannot read stays as it was
(search and Кошелёк still find it by its digits) and is logged for the operator, as is a
number whose E.164 form another member already holds (the two accounts need a person to
merge them: the unique index keeps both rows as they were).
"""

import logging

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T11:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member phones in E.164"

log = logging.getLogger(__name__)
BATCH = 1000


async def normalise_phones() -> None:
    from wallet import phones
    from wallet.members.tables import Member

    last = 0
    while True:
        rows = await Member.raw(
            "SELECT id, phone FROM member WHERE id > {} AND phone IS NOT NULL "
            "ORDER BY id LIMIT {}",
            last,
            BATCH,
        )
        if not rows:
            return
        last = rows[-1]["id"]
        for row in rows:
            e164 = phones.parse(row["phone"])
            if e164 is None:
                log.warning(
                    "member %s: phone %s is not a valid number; left as it was",
                    row["id"],
                    phones.masked(row["phone"]),
                )
                continue
            if e164 == row["phone"]:
                continue
            taken = await Member.raw(
                "SELECT id FROM member WHERE phone = {} AND id <> {}", e164, row["id"]
            )
            if taken:
                log.warning(
                    "members %s and %s have the same phone %s written two ways; left as "
                    "they were: merge them by hand",
                    row["id"],
                    taken[0]["id"],
                    phones.masked(e164),
                )
                continue
            await Member.raw("UPDATE member SET phone = {} WHERE id = {}", e164, row["id"])


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)

    async def nothing() -> None:
        """The typed forms are gone; E.164 stays (every reader understands it)."""

    manager.add_raw(normalise_phones)
    manager.add_raw_backwards(nothing)
    return manager
