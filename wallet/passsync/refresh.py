"""Refreshing passes after a change: rebuild what each card's pass shows and, where it
differs from what the pass last showed, give it a new tag and queue its pushes.

How a change reaches a phone without ever being lost:
1. every write that changes what an account's passes show queues a pass update in its own
   transaction (``outbox.queue_pass_update``, or ``platform.enqueue_pass_update`` from the
   layers below pass sync), coalesced per account;
2. the worker runs ``refresh_accounts``: it rebuilds each card's state, and where what the
   pass shows differs from the stored fingerprint it gives the pass a new tag and
   Last-Modified, flags its devices and queues an APNs push job and a Google sync job, all
   in one transaction; a crash before that commit re-runs the job, a crash after it finds
   nothing changed and the queued jobs carry on;
3. ``push.push_due`` sends to every flagged device behind its pass's tag and records each
   success, so a retried job skips the devices already told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from wallet import db
from wallet.members import service as members
from wallet.members.service import CardInfo
from wallet.passsync import queries
from wallet.passsync.outbox import queue_google_sync, queue_push
from wallet.passsync.rows import PASS_COLUMNS, next_modified, next_tags
from wallet.passsync.view import AccountView, account_views, card_state, fingerprint


async def refresh_account(account_id: int, *, now: datetime) -> int:
    """Give every card of the account whose pass content changed a new tag, and queue its
    pushes; returns how many passes changed."""
    return (await refresh_accounts([account_id], now=now))[account_id]


async def refresh_accounts(
    account_ids: list[int],
    *,
    now: datetime,
    cards: dict[int, list[CardInfo]] | None = None,
    messages: dict[int, PassText] | None = None,
) -> dict[int, int]:
    """``refresh_account`` for many accounts in one write transaction (the caller's, if
    there is one): the cards and what their passes show are read for all the accounts in a
    few IN queries, the pass rows read and locked in one query, the tags taken from the
    counter in one bump, the changed passes written in one statement, one push job queued.
    The worker's pass updates that run at once and a campaign's batch of messages come
    here; ``messages`` (by card id) puts a new message on those passes in the same write.
    ``cards`` saves reading them again when the caller has. Returns passes changed per
    account."""
    changed = dict.fromkeys(account_ids, 0)
    if cards is None:
        cards = await members.cards_of_accounts(list(changed))
    ids = [card.id for account_id in changed for card in cards.get(account_id, [])]
    if not ids:
        return changed
    known = {
        row["card_id"]
        for chunk in db.chunks(ids)
        for row in await db.fetch(queries.cards_with_pass(len(chunk)), *chunk)
    }
    if not known:
        return changed
    shown = [a for a in changed if any(card.id in known for card in cards.get(a, []))]
    views = await account_views(shown, now)
    messages = messages or {}
    async with db.write_transaction():
        rows, google = await _lock_pass_rows(sorted(known))
        updates = _changed_passes(views, cards, rows, messages)
        if updates:
            await _write_changes(updates, now)
            for account_id, card_id, _row, _seen in updates:
                if card_id in google:
                    await queue_google_sync(card_id)
                changed[account_id] += 1
            await queue_push()
    return changed


# (account id, card id, the pass row as it is to show, its new fingerprint)
_Update = tuple[int, int, dict[str, Any], str]


async def _lock_pass_rows(card_ids: list[int]) -> tuple[dict[int, dict[str, Any]], set[int]]:
    """The cards' pass rows by card id, locked until commit, and which cards have a Google
    object."""
    columns = ", ".join(column._meta.db_column_name for column in PASS_COLUMNS)
    rows: dict[int, dict[str, Any]] = {}
    google: set[int] = set()
    for chunk in db.chunks(card_ids):
        for row in await db.fetch(queries.lock_pass_rows(columns, len(chunk)), *chunk):
            rows[row["card_id"]] = row
        for obj in await db.fetch(queries.google_objects(len(chunk)), *chunk):
            google.add(obj["card_id"])
    return rows, google


def _changed_passes(
    views: dict[int, AccountView],
    cards: dict[int, list[CardInfo]],
    rows: dict[int, dict[str, Any]],
    messages: dict[int, PassText],
) -> list[_Update]:
    """The passes whose content, account or message differs from what they last showed."""
    updates: list[_Update] = []
    for account_id, view in views.items():
        for card in cards[account_id]:
            pass_row = rows.get(card.id)
            if pass_row is None:
                continue
            text = messages.get(card.id)
            if text is not None:
                pass_row = {**pass_row, **text.columns()}
            seen = fingerprint(card_state(card, view, pass_row, pass_row["modified_at"]))
            if (
                seen == pass_row["fingerprint"]
                and pass_row["account_id"] == account_id
                and (text is None or text.message_id == rows[card.id]["message_id"])
            ):
                continue
            updates.append((account_id, card.id, pass_row, seen))
    return updates


async def _write_changes(updates: list[_Update], now: datetime) -> None:
    """New tags (one bump of the counter) and Last-Modified for the changed passes, written
    200 a statement, and their devices flagged for a push."""
    last = await next_tags(len(updates))
    first = last - len(updates) + 1
    for low in range(0, len(updates), 200):
        batch = [
            (
                row["id"],
                first + low + number,
                next_modified(row["modified_at"], now),
                seen,
                account_id,
                row["message_id"],
                row["message_header"],
                row["message_text"],
            )
            for number, (account_id, _card, row, seen) in enumerate(updates[low : low + 200])
        ]
        table, args = db.values_table(batch, queries.PASS_UPDATE_TYPES)
        await db.fetch(queries.update_passes(table), *args)
    serials = sorted({row["serial"] for _a, _c, row, _s in updates})
    for chunk_serials in db.chunks(serials):
        await db.fetch(queries.flag_push_due(len(chunk_serials)), *chunk_serials)


class PassText(msgspec.Struct, frozen=True):
    """A marketer's message as a pass shows it (``messages.push_messages``)."""

    message_id: str
    header: str
    text: str

    def columns(self) -> dict[str, str]:
        return {
            "message_id": self.message_id[:100],
            "message_header": self.header[:200],
            "message_text": self.text,
        }


def has_pass_sql(account_column: str) -> str:
    """An SQL condition (both engines) that holds where the account in ``account_column``
    has a pass served or saved for one of its cards: the accounts ``refresh_account`` can
    change anything for. Set-based callers (cashback settlement) queue pass updates only
    for those instead of one no-op job per account.

    ``pass_card.account_id`` is the account the pass last showed; a card moved to another
    account since (merge) already has a pass update waiting for its new account.
    """
    return f"EXISTS (SELECT 1 FROM pass_card pc WHERE pc.account_id = {account_column})"
