"""The campaign channel ``sms``: marketing SMS to shoppers who opted in to them.

- **Consent.** Marketing SMS is its own opt-in (``member.marketing_sms``; each change a
  ``member_consent`` row, and each delivery keeps the id of the row that allowed it, as
  email does). It is checked again when the message is queued. Sign-in and spend codes
  are service messages: they go through ``wallet.sms`` directly and need no consent.
- **Quiet hours.** No marketing SMS in the program's night (``WALLET_SMS_QUIET_HOURS``,
  21:00-09:00 by default): the send job waits for the morning with its deliveries still
  pending, and a message queued just before the night but sent late (an SMSC that was
  down) is held by ``wallet.sms`` itself (kind ``marketing``).
- **Exactly once.** A delivery is marked ``sent`` in the transaction that queues its SMS
  in the SMS outbox, so a crash either did both or neither; the SMS outbox sends each
  message once, waiting while the SMSC is down or refuses the bind.
- **Figures.** Each message carries the tag ``campaign:<id>``; the operator's delivery
  receipts (delivered, failed, expired) are counted from it, with the parts sent.
- **Limits at save.** A text longer than ``WALLET_SMS_MAX_PARTS`` parts is refused with
  its part count; a sender name the settings do not list is refused.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import datetime
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes

from wallet import clock, db
from wallet import settings as settings_module
from wallet.campaigns import queries
from wallet.campaigns.rendering import context_of, render_text, sandbox
from wallet.campaigns.schemas import SmsFigures
from wallet.campaigns.service import CONSENT_WITHDRAWN
from wallet.errors import InvalidInput
from wallet.segments import service as segments
from wallet.sms import quiet, smpp
from wallet.sms import service as sms

CHANNEL = "sms"
# Messages queued in one transaction and sent by one ``sms.send`` job, side by side
# (100 a chunk: 0.50 of the bare client on PostgreSQL in bench/bench_sms.py; 250: 0.61).
CHUNK = 250
# Chunks written side by side by a slice (PostgreSQL: a transaction's round trips each;
# SQLite: the next chunk is built while one waits for the writer).
WRITES_AT_ONCE = 2
# Deliveries claimed at once by a sending slice (its claim, the shoppers' rows and the
# campaign's status are a database round trip each per batch, which bench/bench_sms.py
# on PostgreSQL waited for more than for the SMSC).
BATCH = 500


class SmsTextTooLong(InvalidInput):
    code = "sms_too_long"


class SmsSenderNotAllowed(InvalidInput):
    code = "sms_sender_not_allowed"


def tag(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def parts_of(text: str) -> int:
    return smpp.parts_of(text) if text else 0


def check(*, channels: list[str], text: str, sender: str) -> None:
    """At save: an SMS campaign has a text that fits the part limit, and a sender name the
    operator registered. The text is measured as written and as rendered for a sample
    shopper (a long name makes it longer; the send refuses what still does not fit)."""
    if sender and sender not in sms.allowed_senders():
        raise SmsSenderNotAllowed(
            f"the sender name {sender!r} is not one the settings allow",
            {"field": "sms_sender", "allowed": list(sms.allowed_senders())},
        )
    if CHANNEL not in channels:
        return
    if not text.strip():
        raise InvalidInput("an SMS campaign needs sms_text", {"field": "sms_text"})
    limit = min(settings_module.get().sms_max_parts, sms.MAX_PARTS)
    parts = max(parts_of(text), parts_of(render_text(text, context_of(None, 0))))
    if parts > limit:
        raise SmsTextTooLong(
            f"the SMS text takes {parts} parts; at most {limit} are allowed",
            {"field": "sms_text", "parts": parts, "max_parts": limit},
        )


def rendered(camp: dict[str, Any], recipient: segments.Recipient | None) -> str:
    """The campaign's text for ``recipient`` (None: a sample shopper). Only the merge fields
    the text uses are made; a text of plain words and ``{{ field }}`` is joined without
    Jinja (a render per shopper, with an unsubscribe link's HMAC it never showed, was a
    twentieth of the campaign's CPU in bench/bench_sms.py). Anything else renders as
    Jinja does, errors included."""
    source = camp["sms_text"]
    fields, pieces = _merge_fields(source)
    context = context_of(recipient, camp["id"] if recipient else 0, names=fields)
    if pieces is not None:
        try:
            return "".join(
                piece if literal else str(context[piece]) for literal, piece in pieces
            ).strip()
        except KeyError:
            pass  # a field no shopper has: Jinja says which
    return render_text(source, context)


# The merge fields that need the points burning soon (a second query per batch of shoppers).
BURNING_FIELDS = frozenset({"burning", "burning_points", "burning_date"})


def needs_burning(camp: dict[str, Any]) -> bool:
    """Whether the campaign's SMS text names the points burning soon (a text Jinja cannot
    parse is assumed to: its render reports the error)."""
    fields, _ = _merge_fields(camp["sms_text"] or "")
    return fields is None or bool(fields & BURNING_FIELDS)


@functools.lru_cache(maxsize=64)
def _merge_fields(
    source: str,
) -> tuple[frozenset[str] | None, tuple[tuple[bool, str], ...] | None]:
    """(the fields ``source`` uses, its pieces as (is literal, text or field name) when it is
    only text and ``{{ field }}``; None otherwise: filters, tags, expressions)."""
    try:
        tree = sandbox.parse(source)
    except TemplateSyntaxError:
        return None, None  # every field: the render reports the error
    fields = frozenset(meta.find_undeclared_variables(tree))
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return fields, None
    pieces: list[tuple[bool, str]] = []
    for node in tree.body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            pieces.append((True, node.data))
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            pieces.append((False, node.name))
        else:
            return fields, None
    return fields, tuple(pieces)


def cost_kopecks(parts: int) -> int:
    return parts * settings_module.get().sms_price_kopecks


async def figures(campaign_id: int) -> SmsFigures:
    counts = await sms.counts_of_tag(tag(campaign_id))

    def n(status: str) -> int:
        return counts.get(status, (0, 0))[0]

    parts = sum(p for status, (_n, p) in counts.items() if status != "queued")
    return SmsFigures(
        queued=n("queued"),
        sent=n("sent"),
        delivered=n("delivered"),
        failed=n("failed"),
        expired=n("expired"),
        refused=n("dead"),
        parts=parts,
        cost_kopecks=cost_kopecks(parts),
    )


async def estimate(camp: dict[str, Any], flt: Any, *, now: datetime) -> tuple[int, int, int]:
    """(shoppers the audience would text: opted in and with a number, parts of the text,
    estimated cost in kopecks)."""
    p = db.Params()
    compiled = await segments.compile_filter(flt, now=now, params=p)
    rows = await db.fetch(queries.sms_reach(compiled.where), *p.values)
    reach = int(rows[0]["n"])
    parts = parts_of(rendered(camp, None)) if camp["sms_text"] else 0
    return reach, parts, cost_kopecks(reach * parts)


async def send_batch(
    camp: dict[str, Any],
    rows: list[dict[str, Any]],
    found: dict[int, segments.Recipient],
    limit: Any,
    marks: Any,
    *,
    max_claims: int,
    writing: set[asyncio.Task[None]],
    inflight: set[int],
) -> bool:
    """A claimed batch of SMS deliveries: each opted-in shopper's message is queued in the
    SMS outbox and its delivery marked sent in one transaction per chunk. True when the
    quiet hours began: the rows not done are handed back pending for the morning.

    Up to ``WRITES_AT_ONCE`` chunks are written side by side while the next is built; they
    are in ``writing`` (the caller's), which a stopping slice waits for before it hands its
    rows back, so no row is handed back while its "sent" is being committed. The last ones
    may still be writing when this returns (the caller's next batch waits for room among
    them): a chunk's rows leave ``inflight`` (the caller's claimed rows) once it committed,
    the batch's other rows when this returns (their marks are the caller's to flush)."""
    chunk: list[tuple[int, str, str]] = []
    chunked: set[int] = set()  # rows of this batch in a chunk (they leave ``inflight`` with it)
    sender = camp["sms_sender"]

    async def write_chunk(taken: list[tuple[int, str, str]]) -> None:
        # At most a few seconds of the bind's rate in flight (waited for before the
        # chunk's job is claimed, so its lease does not run while it waits).
        await sms.room_for(len(taken))
        now = clock.now()
        async with db.write_transaction():
            # One statement and one job, claimed by this process, send the chunk side by
            # side (a row and a job per message, then a job waiting for the worker's next
            # poll, cost more than the SMSC: bench/bench_sms.py).
            queued = await sms.queue_chunk(
                [(phone, text) for _id, phone, text in taken],
                kind=quiet.MARKETING,
                now=now,
                sender=sender,
                tag=tag(camp["id"]),
            )
            p = db.Params()
            ids = [delivery_id for delivery_id, _p, _t in taken]
            await db.fetch(queries.mark(p, ids, "sent", "", now), *p.values)
        inflight.difference_update(ids)
        # Committed: the messages go now (a crash before they are marked sent leaves them
        # queued with their job, which a worker claims when its lease runs out).
        sms.send_chunk(queued)

    async def settle(at_most: int) -> None:
        while len(writing) > at_most:
            done, _ = await asyncio.wait(writing, return_when=asyncio.FIRST_COMPLETED)
            writing.difference_update(done)
            for task in done:
                task.result()  # a failed write fails the slice (its rows are handed back)

    async def write() -> None:
        if not chunk:
            return
        await settle(WRITES_AT_ONCE - 1)
        writing.add(asyncio.create_task(write_chunk(list(chunk)), name="sms-chunk-write"))
        chunk.clear()

    max_parts = min(settings_module.get().sms_max_parts, sms.MAX_PARTS)
    await sms.warm_up()
    for index, row in enumerate(rows):
        delivery_id = int(row["id"])
        if quiet.quiet_until(clock.now()) is not None:
            await write()
            await settle(0)
            p = db.Params()
            rest = [int(r["id"]) for r in rows[index:]]
            async with db.write_transaction():
                await db.fetch(queries.hand_back(p, rest), *p.values)
            inflight.difference_update(int(r["id"]) for r in rows)
            return True
        if int(row["attempts"]) > max_claims:
            await marks.add(delivery_id, "failed", "gave up: crashed its worker")
            continue
        recipient = found.get(int(row["account_id"]))
        if recipient is None:
            await marks.add(delivery_id, "skipped", "no_member")
            continue
        if not recipient.phone:
            await marks.add(delivery_id, "skipped", "no_phone")
            continue
        if not recipient.marketing_sms:
            await marks.add(delivery_id, "skipped", CONSENT_WITHDRAWN)
            continue
        try:
            text = rendered(camp, recipient)
        except InvalidInput as exc:
            await marks.add(delivery_id, "failed", f"unsendable: {exc.message}"[:200])
            continue
        if parts_of(text) > max_parts:
            await marks.add(delivery_id, "failed", f"too_long: {parts_of(text)} parts")
            continue
        if len(chunk) >= CHUNK or (chunk and limit.next_at > time.monotonic()):
            await write()
        await limit.wait()
        chunk.append((delivery_id, recipient.phone, text))
        chunked.add(delivery_id)
    await write()
    inflight.difference_update(int(r["id"]) for r in rows if int(r["id"]) not in chunked)
    return False
