"""Sending a campaign: claim delivery rows in slices, send them (email, pass pushes,
«Кошелёк» pushes) at the campaign's rate, mark each exactly once, and finish the campaign
when none is left. The ``campaign.send`` job runs ``send_slice``; a message that cannot be
built or sent fails alone on its delivery row.

A worker killed outright (SIGKILL) between the receiver's "accepted" and our mark would
send that message again when the row is claimed anew, and an SMTP server cannot be asked
what it already has. So the window is kept to the messages in flight: each email and
Кошелёк push is recorded as started (``started_at``) just before it goes and marked sent
at once after it was accepted, each in its own short transaction. A row claimed again
while it was started is marked ``doubtful_at``: it may reach the shopper twice, and the
campaign's figures count it (``maybe_twice``) instead of hiding it. The claims are held
for a lease the slice renews while it works (``WALLET_WORKER_LEASE_SECONDS``), so a dead
worker's rows go to another worker within seconds. Pass pushes need none of this: they are
written to the outbox in the same transaction as their mark."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import aiosmtplib

from wallet import clock, db
from wallet.campaigns import queries
from wallet.campaigns import sms as sms_channel
from wallet.campaigns.rendering import context_of, email_message, push_texts
from wallet.campaigns.service import CONSENT_WITHDRAWN, _row
from wallet.campaigns.tables import Campaign
from wallet.errors import InvalidInput
from wallet.koshelek import protocol as koshelek_protocol
from wallet.koshelek import push as koshelek
from wallet.koshelek import service as koshelek_cards
from wallet.mail import service as mail
from wallet.passsync import messages as pass_messages
from wallet.platform import worker
from wallet.platform.worker import RetryLater
from wallet.segments import service as segments

log = logging.getLogger("wallet.campaigns")

# Messages per second per channel when the campaign does not say.
# SMS are handed to the SMS outbox here; the SMPP bind's own rate (WALLET_SMPP_RATE) paces
# what reaches the operator.
DEFAULT_RATE = {"email": 100, "push": 300, "koshelek": 50, "sms": 0}
BATCH = 100
# A send job works this long, then queues the next slice (its outbox lease is renewed
# meanwhile, like its deliveries' claims: ``worker.lease()``).
SLICE_SECONDS = 20.0
# A row claimed this many times without being marked is given up (it crashes its worker).
MAX_CLAIMS = 5
CONCURRENCY = {"email": 8, "push": 16, "koshelek": 8, "sms": 1}


class RateLimit:
    """At most ``rate`` starts per second, spaced evenly (no bursts at second boundaries)."""

    def __init__(self, rate: int) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(self.next_at, now)
        self.next_at = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class Marks:
    """Outcomes that sent nothing (skipped, failed) written in small groups; a message that
    went is marked on its own at once (``_mark_sent``)."""

    FLUSH_AT = 16

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.count = 0

    async def add(self, delivery_id: int, status: str, reason: str = "") -> None:
        self.pending[(status, reason[:200])].append(delivery_id)
        self.count += 1
        if self.count >= self.FLUSH_AT:
            await self.flush()

    async def flush(self) -> None:
        if not self.count:
            return
        groups, self.pending, self.count = self.pending, defaultdict(list), 0
        now = clock.now()
        async with db.write_transaction():
            for (status, reason), ids in groups.items():
                await _mark(ids, status, reason, now)


async def _mark(ids: list[int], status: str, reason: str, now: datetime) -> None:
    p = db.Params()
    if status == "pending":
        # Handed back unsent (a stopping worker, a receiver down): not a crash, so the
        # claim does not count towards MAX_CLAIMS.
        await db.fetch(queries.hand_back(p, ids), *p.values)
        return
    text = queries.mark(p, ids, status, reason, now if status == "sent" else None)
    await db.fetch(text, *p.values)


async def _claim(
    campaign_id: int, channel: str, *, after_id: int, limit: int, now: datetime
) -> list[dict[str, Any]]:
    async with db.write_transaction():
        rows = await db.fetch(
            queries.CLAIM,
            now + worker.lease(),
            after_id,
            campaign_id,
            channel,
            now,
            limit,
        )
    return sorted(rows, key=lambda row: int(row["id"]))


async def _mark_started(delivery_id: int) -> None:
    """The message is about to leave: if this worker dies before ``_mark_sent``, the row's
    next claim knows it may have gone."""
    async with db.write_transaction():
        await db.fetch(queries.MARK_STARTED, clock.now(), delivery_id)


async def _mark_sent(delivery_id: int) -> None:
    """The receiver accepted the message: marked at once, not with the next group, so a
    crash now sends again at most the messages still in flight. Shielded: a stopping worker
    that cancels the slice still records what was accepted."""

    async def write() -> None:
        now = clock.now()
        async with db.write_transaction():
            await _mark([delivery_id], "sent", "", now)

    await asyncio.shield(write())


async def _renew_claims(inflight: set[int]) -> None:
    """Every third of a lease, the rows this slice holds are held for another lease."""
    while True:
        await asyncio.sleep((worker.lease() / 3).total_seconds())
        if not inflight:
            continue
        try:
            now = clock.now()
            p = db.Params(now + worker.lease())
            async with db.write_transaction():
                await db.fetch(queries.renew_claims(p, sorted(inflight)), *p.values)
        except Exception:
            log.warning("could not renew the claims of a sending slice", exc_info=True)


def _reason(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, InvalidInput) else str(exc)
    return f"{type(exc).__name__}: {message}"


class TransientFailure(Exception):
    """The receiver is down; the row goes back to pending and the slice retries later."""


async def _send_email(
    camp: dict[str, Any], row: dict[str, Any], recipient: segments.Recipient | None
) -> tuple[str, str]:
    """Sends when there is something to send (``_mark_started`` just before it goes)."""
    if recipient is None:
        return "skipped", "no_member"
    if not recipient.email:
        return "skipped", "no_email"
    if not recipient.marketing_email:
        # Withdrawn after the delivery was queued: honoured at the last moment.
        return "skipped", CONSENT_WITHDRAWN
    try:
        message = email_message(
            camp,
            context_of(recipient, camp["id"]),
            to=recipient.email,
            lang=recipient.language,
            message_key=f"delivery-{row['id']}",
        )
    except (ValueError, TypeError, InvalidInput) as exc:
        # This shopper's data cannot make a message (a line break in a header, a text that
        # does not render): only this delivery fails, it will never succeed on a retry.
        return "failed", f"unsendable: {_reason(exc)}"
    await _mark_started(int(row["id"]))
    try:
        await mail.send_message(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        if exc.recipients and all(400 <= one.code < 500 for one in exc.recipients):
            # 421/450/451/452: the server is busy, shutting down or greylisting, not
            # refusing the shopper; the message is sent when it is back.
            raise TransientFailure(mail.failure(exc)) from exc
        return "failed", f"refused: {exc}"
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            return "failed", f"refused: {exc.code} {exc.message}"
        raise TransientFailure(str(exc)) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise TransientFailure(str(exc)) from exc
    return "sent", ""


async def _send_koshelek(
    http: Any,
    camp: dict[str, Any],
    row: dict[str, Any],
    recipient: segments.Recipient | None,
    phone: str | None,
) -> tuple[str, str]:
    """A PROMO push to the card in Кошелёк. Like email, a crash between Кошелёк's answer
    and our mark resends the few in flight; a phone Кошелёк does not know is skipped."""
    if recipient is None:
        return "skipped", "no_member"
    if not recipient.marketing_push:
        return "skipped", "unsubscribed"
    if not phone:
        return "skipped", "no_phone"
    try:
        title, text = push_texts(camp, context_of(recipient, camp["id"]))
    except (ValueError, TypeError, InvalidInput) as exc:
        return "failed", f"unsendable: {_reason(exc)}"
    await _mark_started(int(row["id"]))
    try:
        state = await koshelek.send(
            http,
            account_id=recipient.account_id,
            msisdn=phone,
            push_type=koshelek_protocol.PUSH_PROMO,
            title=title,
            message=text,
            utm_campaign=f"campaign-{camp['id']}",
            delivery_id=int(row["id"]),
        )
    except koshelek.PushUnavailable as exc:
        raise TransientFailure(str(exc)) from exc
    except koshelek.PushRefused as exc:
        return "failed", f"refused: {exc}"
    if state == koshelek_protocol.STATE_NOT_REGISTERED:
        return "skipped", koshelek_protocol.STATE_NOT_REGISTERED
    return "sent", ""


PUSH_CHUNK = 50


async def _send_push_batch(
    camp: dict[str, Any],
    rows: list[dict[str, Any]],
    found: dict[int, segments.Recipient],
    limit: RateLimit,
    marks: Marks,
) -> None:
    """A claimed batch of push deliveries, up to ``PUSH_CHUNK`` a transaction: the messages
    go on the passes (``pass_messages.push_messages``) and the rows are marked sent in the
    same transaction, exactly once; a shopper without a pass in a wallet is skipped
    ("no_wallet"). The rate limit still spaces the sends: a chunk is written before the
    limit makes us wait."""
    chunk: list[tuple[dict[str, Any], Any]] = []

    async def write() -> None:
        if not chunk:
            return
        now = clock.now()
        async with db.write_transaction():
            outcomes = await pass_messages.push_messages([m for _r, m in chunk], now=now)
            sent = [int(row["id"]) for row, m in chunk if outcomes[m.account_id].wallets]
            if sent:
                await _mark(sent, "sent", "", now)
        for row, m in chunk:
            if not outcomes[m.account_id].wallets:
                await marks.add(int(row["id"]), "skipped", "no_wallet")
        chunk.clear()

    for row in rows:
        if int(row["attempts"]) > MAX_CLAIMS:
            await marks.add(int(row["id"]), "failed", "gave up: crashed its worker")
            continue
        recipient = found.get(int(row["account_id"]))
        if recipient is None:
            await marks.add(int(row["id"]), "skipped", "no_member")
            continue
        if not recipient.marketing_push:
            await marks.add(int(row["id"]), "skipped", CONSENT_WITHDRAWN)
            continue
        if len(chunk) >= PUSH_CHUNK or (chunk and limit.next_at > time.monotonic()):
            await write()
        await limit.wait()
        try:
            header, text = push_texts(camp, context_of(recipient, camp["id"]))
        except (ValueError, TypeError, InvalidInput) as exc:
            await marks.add(int(row["id"]), "failed", f"unsendable: {_reason(exc)}")
            continue
        message_id = f"campaign-{camp['id']}"
        if camp["kind"] != "manual":
            message_id += "-" + str(row["key"]).rsplit(":", 1)[-1]
        chunk.append(
            (
                row,
                pass_messages.PushMessage(
                    account_id=recipient.account_id,
                    header=header,
                    text=text,
                    message_id=message_id,
                ),
            )
        )
    await write()


async def send_slice(
    campaign_id: int, channel: str, *, seconds: float = SLICE_SECONDS, batch: int = BATCH
) -> str:
    """Send for up to ``seconds``; returns "done", "more", "waiting" (rows left are leased
    elsewhere), "cancelled" or "idle"."""
    camp = await _row(campaign_id)
    if camp["status"] == "cancelled":
        return "cancelled"
    if camp["status"] != "sending":
        return "idle"
    rate = camp.get(f"{channel}_rate") or DEFAULT_RATE[channel]
    if channel == "sms":
        batch = sms_channel.BATCH  # chunks are written from it: see wallet/campaigns/sms.py
    limit = RateLimit(rate)
    gate = asyncio.Semaphore(CONCURRENCY[channel])
    deadline = time.monotonic() + seconds
    marks = Marks()
    after_id = 0
    # Claimed rows not yet marked: a stopping worker hands them back at once.
    inflight: set[int] = set()
    progressed = False
    transient: list[str] = []
    http = koshelek.client() if channel == "koshelek" else None
    renewing = asyncio.create_task(_renew_claims(inflight), name="campaign-claims")
    # An SMS text without burning points does not read them (a query per batch).
    burns = channel != "sms" or sms_channel.needs_burning(camp)

    async def claim(
        after: int,
    ) -> tuple[list[dict[str, Any]], dict[int, segments.Recipient], bool]:
        """The next batch, its shoppers, and whether the campaign was still sending when it
        was claimed (read here, so a batch claimed ahead brings it without a round trip of
        its own between two batches)."""
        now = clock.now()
        rows = await _claim(campaign_id, channel, after_id=after, limit=batch, now=now)
        inflight.update(int(r["id"]) for r in rows)
        found = await segments.recipients(
            [int(r["account_id"]) for r in rows], now=now, burns=burns
        )
        sending = not after or (await _row(campaign_id))["status"] == "sending"
        return rows, found, sending

    # SMS: the next batch is claimed and its shoppers read while this one is written (one
    # slice waited on those round trips more than on the SMSC: bench/bench_sms.py).
    # Claimed rows are in ``inflight`` at once, so a slice that stops hands them back.
    ahead: asyncio.Task[tuple[list[dict[str, Any]], dict[int, segments.Recipient], bool]] | None
    ahead = None
    # SMS chunks being written (their rows are handed back only once they are done).
    writing: set[asyncio.Task[None]] = set()
    try:
        while time.monotonic() < deadline:
            if ahead is not None:
                rows, found, still_sending = await ahead
                ahead = None
            else:
                rows, found, still_sending = await claim(after_id)
            if not still_sending:
                return "cancelled"  # the rows just claimed are handed back on the way out
            if not rows:
                break
            after_id = int(rows[-1]["id"])
            progressed = True
            if channel == "sms" and len(rows) == batch and time.monotonic() < deadline:
                ahead = asyncio.create_task(claim(after_id), name="campaign-claim-ahead")
            phones = (
                await koshelek_cards.phones_of_accounts([int(r["account_id"]) for r in rows])
                if channel == "koshelek"
                else {}
            )
            if channel == "push":
                await _send_push_batch(camp, rows, found, limit, marks)
                inflight.difference_update(int(r["id"]) for r in rows)
                await marks.flush()
                continue
            if channel == "sms":
                # The batch's last chunks are still being written when this returns: the
                # next batch is rendered meanwhile (waiting for them left the SMSC without
                # a message in flight for 30 ms per batch in bench/bench_sms.py). Their
                # rows stay in ``inflight`` until their chunk committed.
                night = await sms_channel.send_batch(
                    camp,
                    rows,
                    found,
                    limit,
                    marks,
                    max_claims=MAX_CLAIMS,
                    writing=writing,
                    inflight=inflight,
                )
                await marks.flush()
                if night:
                    break
                continue

            async def one(
                row: dict[str, Any],
                found: dict[int, segments.Recipient] = found,
                phones: dict[int, str] = phones,
            ) -> None:
                if int(row["attempts"]) > MAX_CLAIMS:
                    inflight.discard(int(row["id"]))
                    await marks.add(int(row["id"]), "failed", "gave up: crashed its worker")
                    return
                recipient = found.get(int(row["account_id"]))
                async with gate:
                    if transient:
                        return
                    await limit.wait()
                    try:
                        if channel == "koshelek":
                            status, reason = await _send_koshelek(
                                http, camp, row, recipient, phones.get(int(row["account_id"]))
                            )
                        else:
                            status, reason = await _send_email(camp, row, recipient)
                    except TransientFailure as exc:
                        transient.append(str(exc))
                        return
                    except Exception as exc:
                        # Anything else is about this one message: raising would fail the
                        # slice and hand the batch back, so everyone already sent in it
                        # would get another copy on the retry. It fails alone instead.
                        log.exception("campaign %s: delivery %s failed", campaign_id, row["id"])
                        status, reason = "failed", f"error: {_reason(exc)}"
                inflight.discard(int(row["id"]))
                if status == "sent":
                    await _mark_sent(int(row["id"]))
                else:
                    await marks.add(int(row["id"]), status, reason)

            await asyncio.gather(*(one(row) for row in rows))
            await marks.flush()
            if transient:
                break
        # The last chunks written: a failed write fails the slice (its rows go back).
        for task in await _settled(writing):
            task.result()
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
        # A cancelled task (a stopping worker) still records what it sent and hands back
        # what it did not (a batch claimed ahead included).
        await asyncio.shield(_wind_up(marks, inflight, [ahead, *writing]))
        if http is not None:
            await http.aclose()
    if transient:
        raise RetryLater(f"{channel} receiver unavailable: {transient[0]}", seconds=10)
    result = await _finish_if_done(campaign_id)
    # Rows left are leased by another worker (or a dead one, until its lease ends).
    return "waiting" if result == "more" and not progressed else result


async def _settled(tasks: set[asyncio.Task[None]]) -> list[asyncio.Task[None]]:
    """``tasks`` once all are done (emptied)."""
    done = list(tasks)
    if done:
        await asyncio.wait(done)
    tasks.difference_update(done)
    return done


async def _wind_up(
    marks: Marks, inflight: set[int], started: list[asyncio.Task[Any] | None]
) -> None:
    """Outcomes recorded and unsent rows handed back, once the claims and writes this slice
    ``started`` are done (a write committing after the hand-back would mark sent a row
    another worker may have claimed)."""
    tasks = [task for task in started if task is not None]
    if tasks:
        await asyncio.wait(tasks)
        for task in tasks:  # the slice's own error is the one reported
            if not task.cancelled():
                task.exception()
    await marks.flush()
    if inflight:
        async with db.write_transaction():
            await _mark(sorted(inflight), "pending", "", clock.now())


async def _finish_if_done(campaign_id: int) -> str:
    rows = await db.fetch(queries.UNFINISHED, campaign_id)
    if int(rows[0]["n"]):
        return "more"
    camp = await _row(campaign_id)
    if camp["kind"] == "manual":
        # A campaign whose every delivery was skipped or failed (a push campaign to
        # shoppers without a pass in a wallet) did not work: it ends "undelivered".
        reached = int((await db.fetch(queries.ANY_SENT, campaign_id))[0]["n"])
        async with db.write_transaction():
            await Campaign.update(
                {
                    Campaign.status: "sent" if reached else "undelivered",
                    Campaign.finished_at: clock.now(),
                }
            ).where((Campaign.id == campaign_id) & (Campaign.status == "sending"))
    return "done"
