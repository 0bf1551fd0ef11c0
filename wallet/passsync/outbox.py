"""The outbox jobs of pass sync: their kinds and the one entry point that queues each.

Every kind is a constant here, so ``grep REFRESH_PASSES`` finds both where a pass update
starts and the handler that runs it (``jobs.py``).

``REFRESH_PASSES`` rebuilds an account's passes (``refresh.refresh_accounts``) and queues
their pushes. Layers above pass sync (offers, campaigns) call ``queue_pass_update``. The
layers below it (members, ledger, receipts) change accounts but cannot import pass sync,
which reads them; they call ``platform.enqueue_pass_update``, a door the platform keeps
without knowing the kind: importing this module hands ``queue_pass_update`` to it
(``platform.serve_pass_updates``). ``wallet.passsync`` imports this module, and every
process that touches the database imports every app's tables (``db.all_tables``), so the
door is always served; if it ever is not, the lower layer's write fails loudly instead of
a pass silently going stale.

The stored kind values are the ones outbox rows have always carried ("pass_update", ...):
jobs queued before a deploy, dead jobs an operator requeues and the benches' SQL keep
matching their handlers.
"""

from __future__ import annotations

from wallet import db
from wallet.platform import service as platform

# Rebuild the passes of one account (payload ``{"account_id"}``), coalesced per account.
REFRESH_PASSES = "pass_update"
# Push every device flagged ``push_due`` (one waiting job serves every changed pass).
APNS_PUSH = "apns_push"
# Insert or patch one card's Google object (payload ``{"card_id"}``).
GOOGLE_SYNC = "google_sync"
# Add a marketer's message to one Google object (payload: see ``messages``).
GOOGLE_MESSAGE = "google_message"


async def queue_pass_update(account_id: int) -> None:
    """The passes of the account's cards must be rebuilt and pushed, in the caller's
    transaction. Coalesced per account: ten receipts in a second leave one waiting job."""
    await platform.enqueue(
        kind=REFRESH_PASSES,
        payload={"account_id": account_id},
        dedupe_key=f"pass:account:{account_id}",
    )


async def queue_push() -> None:
    """One waiting push job serves every changed pass (see ``push.push_due``)."""
    async with db.write_transaction():
        await platform.enqueue(kind=APNS_PUSH, payload={}, dedupe_key="apns:due")


async def queue_google_sync(card_id: int) -> None:
    """Bring the card's Google object up to date with its pass, in the caller's transaction."""
    await platform.enqueue(
        kind=GOOGLE_SYNC, payload={"card_id": card_id}, dedupe_key=f"google:card:{card_id}"
    )


platform.serve_pass_updates(queue_pass_update)
