"""The shopper's "Save to Google Wallet": the signed link from /me lands here, and we answer
with a redirect to Google's save page.

A LoyaltyObject with the chain's stores, links, a goal and a long name does not fit the
JWT of a save link (Google's links break past about 1,800 characters; ten stores alone
pass that). So the object is inserted through the REST API first and the link carries only
its id, Google's documented form for large objects. This happens when the shopper follows
the link, not when /me builds it: /me is read often, a save is tapped once.

When Google's API cannot be reached (or answers too slowly for a shopper waiting on a
redirect), the link carries the object trimmed until it fits (no locations, links or
messages first), and the queued sync job inserts the whole object, or PATCHes it whole
when Google made it from the link. Never a 500: the shopper always gets a working link.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from passes.card import Program
from passes.google import (
    GoogleSettings,
    class_id,
    fitting_save_link,
    loyalty_object,
    save_link,
    serial_object_id,
)
from wallet import db
from wallet.members import service as members
from wallet.passsync import google_api
from wallet.passsync.google import ensure_google_class, service_account
from wallet.passsync.outbox import queue_google_sync
from wallet.passsync.rows import ensure_pass
from wallet.passsync.tables import GoogleObject
from wallet.passsync.view import account_view, card_state, google_settings, program
from wallet.platform.worker import GiveUp, RetryLater

log = logging.getLogger("wallet.google")

# How long a shopper waits on the redirect for Google's API before getting the trimmed
# link instead; Google answers an insert in well under a second when it is healthy.
INSERT_SECONDS = 5.0


async def _insert(body: dict[str, Any], prog: Program, google: GoogleSettings) -> int:
    """Insert the class (once per process) and the object; Google's status, or 503 when it
    could not be reached in time."""
    try:
        async with asyncio.timeout(INSERT_SECONDS):
            await ensure_google_class(prog, google)
            reply = await google_api.client().insert_object(body)
    except TimeoutError:
        reply = google_api.GoogleReply(503, f"no answer in {INSERT_SECONDS:.0f} s")
    except (RetryLater, GiveUp) as exc:
        reply = google_api.GoogleReply(503, f"the loyaltyClass: {exc}")
    if reply.status not in (200, 409):
        log.warning(
            "Google Wallet did not take object %s on the shopper's save (%r); the save link "
            "carries it trimmed and the outbox job google_sync inserts it in full; check "
            "WALLET_GOOGLE_API_URL and the service account if this repeats",
            body["id"],
            reply,
        )
    return reply.status


async def save_to_google(card_number: str, *, now: datetime) -> str:
    """Record the shopper's Save, make sure Google holds the object, and return the save
    link to redirect to."""
    card = await members.find_card(card_number)
    row = await ensure_pass(card, now=now)
    google = google_settings()
    oid = serial_object_id(card.pass_serial, google)
    # The save is recorded before the card's state is read: a change committed after this
    # finds the row and queues a sync, so the object never keeps a stale balance.
    async with db.write_transaction():
        await GoogleObject.insert(
            GoogleObject(
                card_id=card.id,
                account_id=card.account_id,
                object_id=oid,
                inserted=False,
                saved_at=now,
            )
        ).on_conflict(target=GoogleObject.card_id, action="DO NOTHING")
    held = (
        await GoogleObject.select(GoogleObject.inserted)
        .where(GoogleObject.card_id == card.id)
        .first()
    )
    account = service_account()
    if held and held["inserted"]:
        # Google holds it and the sync jobs keep it current: the short reference will do.
        return save_link(
            account, [{"id": oid, "classId": class_id(google)}], google.origins, existing_ids={oid}
        )
    view = await account_view(card.account_id, now)
    state = card_state(card, view, row, row["modified_at"])
    prog = await program(now)
    body = loyalty_object(state, prog, google)
    status = await _insert(body, prog, google)
    if status == 200:
        async with db.write_transaction():
            await GoogleObject.update({GoogleObject.inserted: True}).where(
                GoogleObject.card_id == card.id
            )
        return save_link(account, [body], google.origins, existing_ids={oid})
    # Not inserted by us: the worker inserts it, or (409: Google made it from an earlier
    # link, or a sync job got there first) PATCHes it whole with what is current.
    async with db.write_transaction():
        await queue_google_sync(card.id)
    if status == 409:
        return save_link(account, [body], google.origins, existing_ids={oid})
    return fitting_save_link(account, body, google.origins)
