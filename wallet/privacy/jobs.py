"""What the worker runs for data rights: the nightly retention run, and dropping an erased
shopper's pass registrations once their voided passes were pushed."""

from __future__ import annotations

import logging
from typing import Any

from wallet import clock, db
from wallet.passsync import outbox as pass_outbox
from wallet.passsync import privacy as pass_privacy
from wallet.passsync import refresh
from wallet.platform.jobs import nightly_slot
from wallet.platform.worker import RetryLater, register, register_schedule
from wallet.privacy import service
from wallet.privacy.service import DROP_REGISTRATIONS

log = logging.getLogger("wallet.privacy")


async def drop_registrations(payload: dict[str, Any]) -> None:
    account_id = int(payload["account_id"])
    # The erase queued the pass update; running it here too (a no-op once done) makes sure
    # the devices are marked to be told before we look.
    async with db.write_transaction():
        await refresh.refresh_account(account_id, now=clock.now())
    if await pass_privacy.pending_pushes(account_id):
        await pass_outbox.queue_push()
        raise RetryLater("the voided passes are not pushed to every device yet", seconds=5)
    async with db.write_transaction():
        dropped = await pass_privacy.drop_registrations(account_id)
    log.info("dropped %d pass registrations of erased account %d", dropped, account_id)


async def retention(_payload: dict[str, Any]) -> None:
    report = await service.retention(now=clock.now(), dry_run=False)
    if report.years:
        log.info("retention: %d members erased", len(report.member_ids))


register(DROP_REGISTRATIONS, drop_registrations, max_attempts=12)
register("privacy.retention", retention, max_attempts=3)
register_schedule("privacy.retention", kind="privacy.retention", slot=nightly_slot)
