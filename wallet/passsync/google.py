"""Google Wallet: the loyalty class, each saved card's object kept equal to what its pass
shows, and the messages queued onto objects. The shopper's save link is ``google_save``;
the REST client is ``google_api``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from passes.card import Program
from passes.google import (
    GoogleSettings,
    ServiceAccount,
    add_message_body,
    loyalty_class,
    loyalty_object,
    loyalty_object_patch,
    object_id,
)
from wallet import db, runtime, settings
from wallet.members import service as members
from wallet.passsync import google_api
from wallet.passsync.rows import PASS_COLUMNS
from wallet.passsync.tables import GoogleObject, PassCard
from wallet.passsync.view import account_view, card_state, google_settings, program
from wallet.platform.worker import GiveUp, RetryLater


def service_account() -> ServiceAccount:
    """The Google service account of the certificates folder (read once per runtime)."""
    return runtime.current().google_account()


async def ensure_google_class(prog: Program, google: GoogleSettings) -> None:
    cfg = settings.get()
    key = (cfg.google_api_url, f"{google.issuer_id}.{google.class_suffix}")
    made = runtime.current().caches.google_classes
    if key in made:
        return
    reply = await google_api.client().insert_class(loyalty_class(prog, google))
    if reply.retry:
        raise RetryLater(f"Google loyaltyClass insert: {reply}")
    if reply.status not in (200, 409):
        raise GiveUp(f"Google refused the loyaltyClass: {reply}")
    made.add(key)


async def sync_google(card_id: int, *, now: datetime) -> str:
    """Insert or patch the card's Google object with what its pass shows now."""
    obj = (
        await GoogleObject.select(GoogleObject.object_id, GoogleObject.inserted)
        .where(GoogleObject.card_id == card_id)
        .first()
    )
    if obj is None:
        return "none"
    card = await members.find_card_by_id(card_id)
    row = await PassCard.select(*PASS_COLUMNS).where(PassCard.card_id == card_id).first()
    view = await account_view(card.account_id, now)
    state = card_state(card, view, row, row["modified_at"] if row else now)
    prog = await program(now)
    google = google_settings()
    await ensure_google_class(prog, google)
    client = google_api.client()
    oid = object_id(state, google)
    if obj["inserted"]:
        reply = await client.patch_object(oid, loyalty_object_patch(state, prog, google))
        done = "patched"
        if reply.status == 404:
            reply = await client.insert_object(loyalty_object(state, prog, google))
            done = "inserted"
    else:
        reply = await client.insert_object(loyalty_object(state, prog, google))
        done = "inserted"
        if reply.status == 409:
            # Made by Google from a save link, which may have left out stores and links.
            patch = loyalty_object_patch(state, prog, google, whole=True)
            reply = await client.patch_object(oid, patch)
            done = "patched"
    if reply.retry:
        raise RetryLater(f"Google {done[:-2]}: {reply}")
    if reply.status != 200:
        raise GiveUp(f"Google refused the object {oid}: {reply}")
    if not obj["inserted"]:
        async with db.write_transaction():
            await GoogleObject.update({GoogleObject.inserted: True}).where(
                GoogleObject.card_id == card_id
            )
    return done


async def send_google_message(payload: dict[str, Any], *, now: datetime) -> str:
    client = google_api.client()
    body = add_message_body(
        payload["header"], payload["text"], payload["message_type"], payload["message_id"]
    )
    reply = await client.add_message(payload["object_id"], body)
    if reply.status == 404:
        # Not inserted yet (the sync job is queued behind us): insert it now, then add.
        await sync_google(payload["card_id"], now=now)
        reply = await client.add_message(payload["object_id"], body)
    if reply.status == 403 and payload["message_type"] == "TEXT_AND_NOTIFY":
        # Google's own quota said no: the message still goes on the pass, without a ring.
        body["message"]["messageType"] = "TEXT"
        reply = await client.add_message(payload["object_id"], body)
    if reply.retry:
        raise RetryLater(f"Google addMessage: {reply}")
    if reply.status != 200:
        raise GiveUp(f"Google refused addMessage on {payload['object_id']}: {reply}")
    return "added"
