"""A marketer's message on the shoppers' passes (campaigns and their test sends): the one
way a message reaches a pass.

Apple: stored as the pass's message field, whose changeMessage "%@" shows it on the lock
screen when the pass updates. Google: an addMessage per saved object, ringing the phone
(TEXT_AND_NOTIFY) only while the object had fewer than 3 ringing messages in 24 h.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from wallet import db
from wallet.members import service as members
from wallet.members.service import CardInfo
from wallet.passsync import queries
from wallet.passsync.outbox import GOOGLE_MESSAGE
from wallet.passsync.refresh import PassText, refresh_accounts
from wallet.passsync.tables import GoogleMessage
from wallet.platform import service as platform

# Google rings the phone for at most 3 messages per pass per 24 h (403 quotaExceeded).
GOOGLE_NOTIFY_LIMIT = 3
GOOGLE_NOTIFY_WINDOW = timedelta(hours=24)


async def _google_messages(
    objects: list[dict[str, Any]], *, header: str, text: str, message_id: str, now: datetime
) -> str:
    """Queue an addMessage per saved Google object; "notify", "text" or "none"."""
    google_result = "none"
    for obj in objects:
        key = f"{obj['object_id']}:{message_id}"[:240]
        earlier = (
            await GoogleMessage.select(GoogleMessage.notify).where(GoogleMessage.key == key).first()
        )
        if earlier is not None:  # a retried campaign step
            notify = bool(earlier["notify"])
        else:
            rung = await GoogleMessage.count().where(
                (GoogleMessage.object_id == obj["object_id"])
                & (GoogleMessage.notify == True)  # noqa: E712 - Piccolo builds SQL from ==
                & (GoogleMessage.created_at > now - GOOGLE_NOTIFY_WINDOW)
            )
            notify = rung < GOOGLE_NOTIFY_LIMIT
            await GoogleMessage.insert(
                GoogleMessage(key=key, object_id=obj["object_id"], notify=notify, created_at=now)
            )
            await platform.enqueue(
                kind=GOOGLE_MESSAGE,
                payload={
                    "card_id": obj["card_id"],
                    "object_id": obj["object_id"],
                    "header": header,
                    "text": text,
                    "message_id": message_id,
                    "message_type": "TEXT_AND_NOTIFY" if notify else "TEXT",
                },
                dedupe_key=f"gmsg:{key}"[:120],
            )
        if notify:
            google_result = "notify"
        elif google_result == "none":
            google_result = "text"
    return google_result


class PushMessage(msgspec.Struct, frozen=True):
    account_id: int
    header: str
    text: str
    message_id: str


class PushOutcome(msgspec.Struct, frozen=True):
    wallets: frozenset[str]
    apple_devices: int
    google: str


async def push_messages(messages: list[PushMessage], *, now: datetime) -> dict[int, PushOutcome]:
    """Put each message on its account's passes, in the caller's transaction, each only
    where the account holds a pass in a wallet (a registered device, a saved Google
    object); an account without one is left untouched (its outcome has no wallets).
    ``apple_devices`` counts the devices told, ``google`` is "notify", "text" or "none".

    The cards, pass rows, registrations and Google objects of all the accounts are read in
    a few IN queries, and the changed passes are rebuilt right here (``refresh_accounts``,
    in the same transaction) instead of one pass-update job per account: a campaign slice
    sends its claimed deliveries this way and marks them in the same transaction, so the
    new tags, the push job and the marks commit together or not at all.
    """
    cards = await members.cards_of_accounts(sorted({m.account_id for m in messages}))
    serial_of, devices, objects = await _holdings(cards)
    outcomes: dict[int, PushOutcome] = {}
    changed: list[int] = []
    texts: dict[int, PassText] = {}
    for message in messages:
        account_cards = cards[message.account_id]
        wallets = set()
        if any(devices.get(c.pass_serial) for c in account_cards):
            wallets.add("apple")
        if any(c.id in objects for c in account_cards):
            wallets.add("google")
        active = [c for c in account_cards if c.status == "active"]
        apple_devices = 0
        google_result = "none"
        if wallets and active:
            with_pass = [c for c in active if c.id in serial_of]
            text = PassText(message_id=message.message_id, header=message.header, text=message.text)
            for card in with_pass:
                texts[card.id] = text
            if with_pass:
                changed.append(message.account_id)
                apple_devices = sum(devices.get(serial_of[c.id], 0) for c in with_pass)
            google_result = await _google_messages(
                [obj for c in active for obj in objects.get(c.id, [])],
                header=message.header,
                text=message.text,
                message_id=message.message_id,
                now=now,
            )
        outcomes[message.account_id] = PushOutcome(
            wallets=frozenset(wallets), apple_devices=apple_devices, google=google_result
        )
    if changed:
        await refresh_accounts(changed, now=now, cards=cards, messages=texts)
    return outcomes


async def _holdings(
    cards: dict[int, list[CardInfo]],
) -> tuple[dict[int, str], dict[str, int], dict[int, list[dict[str, Any]]]]:
    """What the wallets hold of these cards: each served pass's serial by card id, the
    registered devices per serial, the saved Google objects by card id."""
    all_ids = [c.id for found in cards.values() for c in found]
    serial_of: dict[int, str] = {}
    devices: dict[str, int] = {}
    objects: dict[int, list[dict[str, Any]]] = {}
    for chunk in db.chunks(all_ids):
        for row in await db.fetch(queries.serials_of_cards(len(chunk)), *chunk):
            serial_of[row["card_id"]] = row["serial"]
        for obj in await db.fetch(queries.google_objects(len(chunk)), *chunk):
            objects.setdefault(obj["card_id"], []).append(obj)
    every_serial = sorted({c.pass_serial for found in cards.values() for c in found})
    for low in range(0, len(every_serial), 500):
        chunk_serials = every_serial[low : low + 500]
        for row in await db.fetch(
            queries.registrations_of_serials(len(chunk_serials)), *chunk_serials
        ):
            devices[row["serial"]] = devices.get(row["serial"], 0) + 1
    return serial_of, devices, objects
