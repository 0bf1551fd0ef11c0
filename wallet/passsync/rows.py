"""Pass rows and their tags: the row each served or saved pass has (its serial, tag,
Last-Modified, fingerprint and message), made when the pass is first served or saved.

Tags come from one counter row: bumping it holds the row's lock until commit, so tags are
committed in increasing order, and a device that saw tag N never misses a pass whose change
commits later with a smaller tag.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from wallet import db
from wallet.members.service import CardInfo
from wallet.passsync import queries
from wallet.passsync.tables import PassCard, PassTagCounter
from wallet.passsync.view import account_view, card_state, fingerprint


async def _next_tag_row() -> None:
    await PassTagCounter.insert(PassTagCounter(id=1, value=0)).on_conflict(
        target=PassTagCounter.id, action="DO NOTHING"
    )


async def next_tags(count: int) -> int:
    """Take ``count`` tags from the counter in one bump; returns the last of them."""
    await _next_tag_row()
    rows = await db.fetch(queries.NEXT_TAGS, count)
    return int(rows[0]["value"])


def next_modified(previous: datetime | None, now: datetime) -> datetime:
    """Last-Modified travels in whole seconds: keep it strictly increasing per pass, so a
    second change within one second is not hidden by a 304."""
    moment = now.replace(microsecond=0)
    if previous is not None and moment <= previous:
        moment = previous.replace(microsecond=0) + timedelta(seconds=1)
    return moment


PASS_COLUMNS = (
    PassCard.id,
    PassCard.card_id,
    PassCard.account_id,
    PassCard.serial,
    PassCard.tag,
    PassCard.modified_at,
    PassCard.fingerprint,
    PassCard.message_id,
    PassCard.message_header,
    PassCard.message_text,
)


async def pass_row(serial: str) -> dict[str, Any] | None:
    return await PassCard.select(*PASS_COLUMNS).where(PassCard.serial == serial).first()


async def ensure_pass(card: CardInfo, *, now: datetime) -> dict[str, Any]:
    """The card's pass row, made when its pass is first served or saved."""
    row = await PassCard.select(*PASS_COLUMNS).where(PassCard.card_id == card.id).first()
    if row is not None:
        return row
    view = await account_view(card.account_id, now)
    modified = next_modified(None, now)
    async with db.write_transaction():
        inserted = await (
            PassCard.insert(
                PassCard(
                    card_id=card.id,
                    account_id=card.account_id,
                    serial=card.pass_serial,
                    tag=0,
                    modified_at=modified,
                    fingerprint=fingerprint(card_state(card, view, None, modified)),
                    created_at=now,
                )
            )
            .on_conflict(target=PassCard.card_id, action="DO NOTHING")
            .returning(PassCard.id)
        )
        if inserted:
            tag = await next_tags(1)
            await PassCard.update({PassCard.tag: tag}).where(PassCard.id == inserted[0]["id"])
    found = await PassCard.select(*PASS_COLUMNS).where(PassCard.card_id == card.id).first()
    assert found is not None
    return found
