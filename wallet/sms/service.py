"""SMS to shoppers: queued in the caller's transaction, sent by the outbox (job
``sms.send``) over SMPP, and followed to the operator's delivery receipt.

- ``queue`` writes the message and its job in the caller's transaction: a sign-in code is
  sent only if the code itself was committed, and an SMSC that is down leaves the message
  waiting in the outbox (retried with backoff) until it is back.
- A message goes out once: the job sends only a row still ``queued`` and marks it ``sent``
  with the SMSC's message id; a refused message is ``dead`` with the SMSC's reason.
- The text is blanked once sent (a sign-in code must not stay readable here).
- With no ``WALLET_SMPP_HOST`` the message goes to the log (the embedded demo's sink).
- A ``marketing`` message (a campaign's) whose job comes due in the quiet hours waits for
  their end (``quiet.py``): an SMSC that was down all evening does not wake shoppers at
  midnight. Service messages (sign-in and spend codes) are never held.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wallet import clock, db, observe, phones
from wallet import settings as settings_module
from wallet.platform import service as platform
from wallet.platform import worker
from wallet.platform.worker import GiveUp, RetryLater
from wallet.sms import queries, quiet, smpp
from wallet.sms.tables import SmsMessage

log = logging.getLogger("wallet.sms")

SEND = "sms.send"
# The receipt's ``stat`` and what the message becomes.
RECEIPT_STATES = {
    "DELIVRD": "delivered",
    "UNDELIV": "failed",
    "REJECTD": "failed",
    "DELETED": "failed",
    "UNKNOWN": "failed",
    "EXPIRED": "expired",
}
# The payload key of a chunk's rows as written, in the job its writer runs (``send_chunk``).
WRITTEN = "_written"
# Longest text we accept: 10 concatenated UCS-2 parts.
MAX_PARTS = 10


class TextTooLong(GiveUp):
    pass


def allowed_senders() -> tuple[str, ...]:
    """Sender names the operator registered for us (the settings say which)."""
    s = settings_module.get()
    return (s.smpp_sender, *s.sms_senders)


async def queue(
    *,
    phone: str,
    text: str,
    kind: str,
    now: datetime,
    sender: str = "",
    tag: str = "",
    send: bool = True,
) -> int:
    """Queue an SMS in the caller's write transaction; its id. ``sender`` (one the
    settings allow; empty: ``WALLET_SMPP_SENDER``) and ``tag`` (what sent it) are kept
    with it. ``send=False`` leaves the job to ``queue_send`` (many messages, one job)."""
    parts = smpp.parts_of(text)
    if parts > MAX_PARTS:
        raise TextTooLong(f"the text takes {parts} SMS parts; at most {MAX_PARTS}")
    rows = await SmsMessage.insert(
        SmsMessage(
            phone=phones.normalise(phone),
            kind=kind,
            sender=sender,
            tag=tag,
            text=text,
            parts=parts,
            status="queued",
            created_at=now,
        )
    ).returning(SmsMessage.id)
    message_id = int(rows[0]["id"])
    if send:
        await platform.enqueue(kind=SEND, payload={"id": message_id})
    return message_id


async def send(payload: dict[str, Any]) -> None:
    """The ``sms.send`` job: one message (``id``), or a campaign's chunk (``ids``) sent
    side by side and marked in one transaction. A chunk whose SMSC went away part way
    marks what went and is retried for the rest (each row is sent only while ``queued``)."""
    ids = [int(payload["id"])] if "id" in payload else [int(i) for i in payload["ids"]]
    written = payload.get(WRITTEN)
    if written is None:
        written = await db.fetch_in(ids, sqlite=queries.to_send, postgres=queries.TO_SEND)
    # The others were sent already (a retried job), or forgotten.
    rows = [row for row in written if row["status"] == "queued"]
    until = quiet.quiet_until(clock.now())
    held = [int(row["id"]) for row in rows if until and row["kind"] == quiet.MARKETING]
    if held:
        async with db.write_transaction():
            await platform.enqueue(kind=SEND, payload={"ids": held}, due_at=until)
        rows = [row for row in rows if int(row["id"]) not in held]
    if not rows:
        return
    s = settings_module.get()
    outcomes: dict[int, tuple[str, str | None, str]] = {}
    later: list[RetryLater] = []
    if not s.smpp_host:
        for row in rows:
            log.info("SMS to %s (no WALLET_SMPP_HOST, not sent): %s", row["phone"], row["text"])
            outcomes[int(row["id"])] = ("sent", None, "")
    else:
        client = smpp.client(record_receipt)
        try:
            sent = await client.submit_many(
                [
                    (str(row["id"]), row["phone"], row["text"], row["sender"] or s.smpp_sender)
                    for row in rows
                ]
            )
        except RetryLater:
            observe.delivered("sms", "failed", "unreachable", count=len(rows))
            raise
        phone_of = {str(row["id"]): row["phone"] for row in rows}
        accepted = 0  # counted once for the chunk (a labelled counter's look-up each was not free)
        for log_id, outcome in sent.items():
            message_id = int(log_id)
            if isinstance(outcome, str):
                accepted += 1
            else:
                observe.delivered("sms", "failed", smpp.outcome_reason(outcome))
            if isinstance(outcome, GiveUp):
                outcomes[message_id] = ("dead", None, str(outcome)[:200])
                log.error(
                    "SMS %s to %s not sent: %s",
                    message_id,
                    phones.masked(phone_of[log_id]),
                    outcome,
                )
            elif isinstance(outcome, RetryLater):
                later.append(outcome)
            else:
                outcomes[message_id] = ("sent", outcome, "")
        if accepted:
            observe.delivered("sms", "sent", count=accepted)
    if outcomes:
        now = clock.now()
        async with db.write_transaction():
            await db.fetch_many(
                [(i, status, smsc, error) for i, (status, smsc, error) in outcomes.items()],
                sqlite=queries.mark_many,
                postgres=queries.MARK_MANY,
                shared=(now,),
            )
    for _message_id, (_status, smsc_id, _error) in outcomes.items():
        if smsc_id is not None and smsc_id in _early:
            await record_receipt(smsc_id, _early.pop(smsc_id), again=True)
    if later:
        raise later[0]


async def queue_chunk(
    messages: list[tuple[str, str]], *, kind: str, now: datetime, sender: str = "", tag: str = ""
) -> Chunk:
    """Queue (phone in E.164, text) pairs in one statement, with one ``sms.send`` job that
    this process claims as it writes it, in the caller's write transaction (a campaign's
    chunk: a Piccolo insert per message, then a job waiting for the worker's next poll,
    were most of the campaign's time in bench/bench_sms.py). ``send_chunk`` sends it once
    the transaction committed; if this process dies first, the job's lease runs out and a
    worker sends what is still queued."""
    rows = []
    for phone, text in messages:
        parts = smpp.parts_of(text)
        if parts > MAX_PARTS:
            raise TextTooLong(f"the text takes {parts} SMS parts; at most {MAX_PARTS}")
        rows.append((phone, text, parts))
    if not rows:
        return Chunk(job=None, size=0)
    inserted = await db.fetch_many(
        rows,
        sqlite=queries.insert_messages,
        postgres=queries.INSERT_MESSAGES,
        shared=(kind, sender, tag, now),
    )
    inserted.sort(key=lambda row: int(row["id"]))
    ids = [int(row["id"]) for row in inserted]
    if not smpp.ready(record_receipt):
        # The SMSC is down or not bound yet: the worker sends it when it can (with its
        # backoff), and the campaign does not wait for each chunk's bind timeout.
        await platform.enqueue(kind=SEND, payload={"ids": ids})
        return Chunk(job=None, size=len(ids))
    job = await worker.claim_at_birth(kind=SEND, payload={"ids": ids})
    # The rows go with the job this process runs (not into the stored payload: a worker
    # that takes the job over after its lease reads them).
    job["payload"] = {**job["payload"], WRITTEN: inserted}
    return Chunk(job=job, size=len(ids))


@dataclass(frozen=True)
class Chunk:
    """Messages queued by ``queue_chunk`` and their claimed job."""

    job: dict[str, Any] | None
    size: int


# Seconds of the bind's rate (WALLET_SMPP_RATE) that campaign chunks may have in flight:
# a message waits its turn in the SMPP client's queue before its RESPONSE_WAIT starts
# running out, so a 20/s bind keeps about 200 going, not a campaign's worth.
IN_FLIGHT_SECONDS = 10
# Chunks being sent by this process, and how many messages each.
_sending: dict[asyncio.Task[None], int] = {}


def _mine() -> dict[asyncio.Task[None], int]:
    loop = asyncio.get_running_loop()
    for task in [t for t in _sending if t.done() or t.get_loop() is not loop]:
        _sending.pop(task, None)
    return _sending


async def room_for(size: int) -> None:
    """Until a chunk of ``size`` messages may be sent at once by this process (before the
    chunk is queued, so a claimed job never waits for room while its lease runs)."""
    limit = max(size, settings_module.get().smpp_rate * IN_FLIGHT_SECONDS)
    while (sending := _mine()) and sum(sending.values()) + size > limit:
        await asyncio.wait(list(sending), return_when=asyncio.FIRST_COMPLETED)


async def warm_up() -> None:
    """Bind to the SMSC before a campaign's first chunk (at most a second, once per
    session), so that chunk goes out at once instead of waiting for a worker."""
    await smpp.warm_up(record_receipt, 1.0)


def send_chunk(chunk: Chunk) -> None:
    """Send a chunk from ``queue_chunk`` now, as the worker would run its job (call right
    after the commit)."""
    if chunk.job is not None:
        _mine()[worker.start_claimed(chunk.job)] = chunk.size


async def queue_send(message_ids: list[int]) -> None:
    """One ``sms.send`` job for messages queued with ``send=False``."""
    if message_ids:
        await platform.enqueue(kind=SEND, payload={"ids": message_ids})


async def record_receipt(smsc_message_id: str, stat: str, *, again: bool = False) -> None:
    """A ``deliver_sm`` receipt: the message becomes delivered, failed or expired.

    Receipts are written in batches by one task per process (a write transaction per
    receipt was the campaign's largest cost: bench/bench_sms.py). A receipt for a message
    we do not know (sent before a restart of the database, or by another system on the
    same bind) is logged and dropped."""
    global _flusher
    state = RECEIPT_STATES.get(stat.upper(), "failed")
    if state != "delivered" and not again:
        # Sent, then not delivered: the operator's receipt says so (failed, expired).
        observe.delivered("sms", "failed", f"receipt_{state}")
    _receipts.append((smsc_message_id, stat))
    loop = asyncio.get_running_loop()
    # A writer of a loop that ended (tests, a restarted worker) is not waited for.
    if _flusher is None or _flusher.done() or _flusher.get_loop() is not loop:
        _flusher = loop.create_task(_flush_receipts())


async def _flush_receipts() -> None:
    while _receipts:
        batch = _receipts[:RECEIPT_BATCH]
        del _receipts[:RECEIPT_BATCH]
        try:
            missed = await _apply_receipts(batch)
            if not missed:
                continue
            # The receipt can beat our own "sent" commit (the SMSC answers the submit and
            # reports delivery in one breath): ``send`` applies it after its commit.
            # ``send`` may also have committed and looked here while our UPDATE ran, so
            # look once more after leaving the receipts: one of the two sees the other.
            for smsc_message_id, stat in missed:
                _early[smsc_message_id] = stat
            while len(_early) > 10_000:
                forgotten = next(iter(_early))
                _early.pop(forgotten)
                log.warning("SMS receipt for unknown message %s dropped", forgotten)
            still = await _apply_receipts(missed)
            for smsc_message_id, _stat in missed:
                if (smsc_message_id, _stat) not in still:
                    _early.pop(smsc_message_id, None)
        except Exception:
            log.exception("could not record %d SMS receipts", len(batch))


async def _apply_receipts(batch: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Apply receipts in one transaction; the ones whose message is not (yet) sent."""
    latest = dict(batch)  # one receipt per message (the last one counts)
    now = clock.now()
    async with db.write_transaction():
        rows = await db.fetch_many(
            [(smsc, RECEIPT_STATES.get(stat.upper(), "failed")) for smsc, stat in latest.items()],
            sqlite=queries.record_receipts,
            postgres=queries.RECORD_RECEIPTS,
            shared=(now,),
        )
    found = {row["smsc_message_id"] for row in rows}
    return [(smsc, stat) for smsc, stat in latest.items() if smsc not in found]


# Receipts waiting for the writer task, and the task (this process only).
RECEIPT_BATCH = 500
_receipts: list[tuple[str, str]] = []
_flusher: asyncio.Task[None] | None = None
# Receipts that arrived before their message was recorded as sent (this process only).
_early: dict[str, str] = {}


async def counts_of_tag(tag: str) -> dict[str, tuple[int, int]]:
    """Messages sent under ``tag`` by status (queued, sent, delivered, failed, expired,
    dead): (messages, parts)."""
    rows = await db.fetch(queries.RECEIPTS_OF_TAG, tag)
    return {row["status"]: (int(row["n"]), int(row["parts"] or 0)) for row in rows}


# Messages are kept this long for an operator looking into "I never got my code", then go.
KEEP = timedelta(days=30)


async def messages_to(phone: str | None) -> list[dict[str, Any]]:
    """The service SMS sent to ``phone`` (sign-in and spend codes), for the shopper's data
    export in the shape of a campaign delivery: kind, status and times, never the text.
    Marketing SMS are listed there already, as campaign deliveries."""
    if not phone:
        return []
    rows = (
        await SmsMessage.select(
            SmsMessage.kind, SmsMessage.status, SmsMessage.created_at, SmsMessage.sent_at
        )
        .where((SmsMessage.phone == phone) & (SmsMessage.kind != quiet.MARKETING))
        .order_by(SmsMessage.id)
    )
    return [
        {
            "id": None,
            "campaign_id": None,
            "campaign": f"SMS: {row['kind']}",
            "kind": row["kind"],
            "channel": "sms",
            "status": row["status"],
            "reason": "",
            "sent_at": row["sent_at"],
            "created_at": row["created_at"],
            "consent_id": None,
        }
        for row in rows
    ]


async def forget_phone(phone: str | None) -> None:
    """Erasure: the messages to the person's number go (they name it)."""
    if phone:
        await SmsMessage.delete().where(SmsMessage.phone == phone)


async def prune(*, now: datetime) -> int:
    from wallet.platform import service as platform_service

    return await platform_service.delete_in_batches("sms_message", "created_at < $1", now - KEEP)
