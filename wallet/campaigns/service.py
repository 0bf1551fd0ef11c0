"""Campaigns: drafts, schedules, per-recipient deliveries, throttled resumable sending.

How a campaign goes out, so that a crash or a restart resumes and never sends twice:
1. ``schedule`` (or ``send_now``) marks it ``scheduled`` and queues a ``campaign_start``
   outbox job due at the chosen time: the worker runs it then, and not before.
2. The start job copies the audience into ``delivery`` rows in one INSERT ... SELECT per
   channel (key campaign:account:channel, unique), shoppers without consent or address
   already ``skipped`` with the reason, and queues one ``campaign_send`` job per channel.
   Nothing is loaded into memory, whatever the audience size.
3. A send job works for a bounded slice of time, claiming rows in batches (``sending``
   with a lease; SKIP LOCKED on PostgreSQL), sending each at the channel's rate and
   marking it ``sent``/``failed``/``skipped`` right after; then it queues the next slice.
   A row whose worker died stays ``sending`` past its lease and is claimed again. Email
   keeps a window of at most a few messages between the SMTP server's "250" and our mark
   (a SIGKILL there resends them, with the same Message-ID so mail systems can fold them);
   a push is marked in the same transaction that queues the pass update, so it is exact.
4. ``cancel`` stops it before or during sending: the send job checks the status before
   every batch, and the rows still waiting become ``cancelled``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import msgspec
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from wallet import clock, codes, db
from wallet import settings as settings_module
from wallet.campaigns import queries
from wallet.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPreview,
    ChannelFigures,
)
from wallet.campaigns.tables import Campaign
from wallet.errors import Conflict, InvalidInput, NotFound
from wallet.koshelek import protocol as koshelek_protocol
from wallet.koshelek import push as koshelek
from wallet.koshelek import service as koshelek_cards
from wallet.mail import service as mail
from wallet.members import service as members
from wallet.members.schemas import LANGUAGES
from wallet.passsync import messages as pass_messages
from wallet.platform import service as platform
from wallet.platform.worker import RetryLater
from wallet.segments import service as segments
from wallet.segments.schemas import SegmentFilter

log = logging.getLogger("wallet.campaigns")

# Messages per second per channel when the campaign does not say.
DEFAULT_RATE = {"email": 100, "push": 300, "koshelek": 50}
BATCH = 100
# A claimed row not marked within this time is claimed again (its worker died).
LEASE = timedelta(seconds=120)
# A send job works this long, then queues the next slice (outbox leases are 60 s).
SLICE_SECONDS = 20.0
# A row claimed this many times without being marked is given up (it crashes its worker).
MAX_CLAIMS = 5
CONCURRENCY = {"email": 8, "push": 16, "koshelek": 8}


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


class CampaignNotEditable(Conflict):
    code = "campaign_not_editable"


# ---- unsubscribe tokens -----------------------------------------------------------------


UNSUBSCRIBE = "unsubscribe"
# Links mailed before unsubscribe tokens went through ``codes.mac`` carry the first 18
# bytes of the same HMAC (24 characters of base64): those mails stay in inboxes, so that
# form is still accepted; new links carry the full MAC.
_LEGACY_SIGNATURE_LENGTH = 24


def _legacy_signature(body: str) -> str:
    digest = hmac.new(codes.secret_key(), f"{UNSUBSCRIBE}:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def unsubscribe_token(member_id: int, campaign_id: int) -> str:
    body = f"{member_id}.{campaign_id}"
    return f"{body}.{codes.mac(UNSUBSCRIBE, body)}"


def read_unsubscribe_token(token: str) -> tuple[int, int]:
    """(member id, campaign id) of a token we signed; InvalidInput otherwise."""
    try:
        member_part, campaign_part, signature = token.split(".")
        body = f"{int(member_part)}.{int(campaign_part)}"
    except ValueError as exc:
        raise InvalidInput("this unsubscribe link is damaged") from exc
    expected = (
        _legacy_signature(body)
        if len(signature) == _LEGACY_SIGNATURE_LENGTH
        else codes.mac(UNSUBSCRIBE, body)
    )
    if not codes.same_secret(signature, expected):
        raise InvalidInput("this unsubscribe link is damaged")
    return int(member_part), int(campaign_part)


def unsubscribe_url(member_id: int, campaign_id: int) -> str:
    base = settings_module.get().base_url
    return f"{base}/unsubscribe?token={unsubscribe_token(member_id, campaign_id)}"


async def unsubscribe(token: str, *, now: datetime) -> dict[str, Any]:
    """Turn marketing email off for the token's shopper and count it for the campaign."""
    member_id, campaign_id = read_unsubscribe_token(token)
    async with db.write_transaction():
        member = await members.member(member_id)
        await members.set_marketing_consent(
            member_id, "email", False, now=now, source="unsubscribe"
        )
        await db.fetch(queries.MARK_UNSUBSCRIBED, now, campaign_id, member["account_id"])
    return member


# ---- rendering ------------------------------------------------------------------------------

# Marketers write subjects, bodies and push texts: a sandbox keeps their Jinja to
# variables and filters.
_sandbox = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=256)
def _template(source: str) -> Template:
    # Compiling costs about as much as sending a push: a campaign compiles its texts once.
    return _sandbox.from_string(source)


def _text(source: str, context: dict[str, Any]) -> str:
    try:
        return _template(source).render(context).strip()
    except Exception as exc:
        raise InvalidInput(f"the text does not render: {exc}", {"text": source[:200]}) from exc


def context_of(recipient: segments.Recipient | None, campaign_id: int) -> dict[str, Any]:
    tz = settings_module.get().tz
    if recipient is None:
        return {
            "name": "Покупатель",
            "balance": 0,
            "burning_points": 0,
            "burning_date": "",
            "unsubscribe_url": f"{settings_module.get().base_url}/unsubscribe",
        }
    return {
        "name": recipient.name,
        "balance": recipient.balance,
        "burning_points": recipient.burning_points,
        "burning_date": (
            recipient.burning_at.astimezone(tz).strftime("%d.%m.%Y") if recipient.burning_at else ""
        ),
        "unsubscribe_url": unsubscribe_url(recipient.member_id, campaign_id),
    }


def render_email(
    camp: dict[str, Any], context: dict[str, Any], *, lang: str
) -> tuple[str, str, str]:
    """The marketer's subject and body are one text, written in whatever language they
    chose; the template around them (greeting, balance, footer, unsubscribe) speaks the
    shopper's ``lang``."""
    subject = _text(camp["subject"] or camp["name"], context)
    body = _text(camp["body"], context)
    return mail.render(
        camp["template"],
        lang=lang,
        context={**context, "subject": subject, "body": body, "paragraphs": body.split("\n\n")},
    )


def _lang(recipient: segments.Recipient | None) -> str:
    return recipient.language if recipient is not None else mail.DEFAULT_LANG


def email_message(
    camp: dict[str, Any],
    context: dict[str, Any],
    *,
    to: str,
    lang: str,
    message_key: str | None,
) -> EmailMessage:
    subject, html, text = render_email(camp, context, lang=lang)
    message = mail.build_message(
        to=to,
        subject=subject,
        html=html,
        text=text,
        headers={
            # RFC 2369 and RFC 8058 one-click: mail clients show "Unsubscribe" and POST here.
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    if message_key is not None:
        domain = settings_module.get().mail_from.rsplit("@", 1)[-1].strip("> ")
        message.replace_header("Message-ID", f"<{message_key}@{domain}>")
    return message


def push_texts(camp: dict[str, Any], context: dict[str, Any]) -> tuple[str, str]:
    return _text(camp["push_header"] or camp["name"], context), _text(camp["push_text"], context)


# ---- campaigns ----------------------------------------------------------------------------


async def _row(campaign_id: int) -> dict[str, Any]:
    row = await Campaign.select().where(Campaign.id == campaign_id).first()
    if row is None:
        raise CampaignNotFound(f"no campaign {campaign_id}", {"campaign_id": campaign_id})
    row["channels"] = db.json_value(row["channels"])
    row["filter"] = db.json_value(row["filter"])
    return row


async def _check_audience(data: CampaignIn, now: datetime) -> None:
    if data.segment_id is not None:
        await segments.get_segment(data.segment_id)
    elif data.filter is not None:
        await segments.compile_filter(data.filter, now=now)
    if ("push" in data.channels or "koshelek" in data.channels) and not data.push_text:
        raise InvalidInput("a push campaign needs push_text", {"field": "push_text"})
    for text in (data.subject, data.body, data.push_header, data.push_text):
        _text(text, context_of(None, 0))
    try:
        for lang in LANGUAGES:
            mail.render(
                data.template,
                lang=lang,
                context={**context_of(None, 0), "subject": "", "body": "", "paragraphs": []},
            )
    except FileNotFoundError as exc:
        raise InvalidInput(str(exc), {"template": data.template}) from exc


def _values(data: CampaignIn) -> dict[Any, Any]:
    return {
        Campaign.name: data.name,
        Campaign.channels: json.dumps(list(dict.fromkeys(data.channels))),
        Campaign.segment_id: data.segment_id,
        Campaign.filter: msgspec.json.encode(data.filter).decode() if data.filter else "{}",
        Campaign.template: data.template,
        Campaign.subject: data.subject,
        Campaign.body: data.body,
        Campaign.push_header: data.push_header,
        Campaign.push_text: data.push_text,
        Campaign.email_rate: data.email_rate,
        Campaign.push_rate: data.push_rate,
    }


async def create_campaign(
    data: CampaignIn, *, actor: str, now: datetime, kind: str = "manual"
) -> CampaignOut:
    await _check_audience(data, now)
    values = {column._meta.name: value for column, value in _values(data).items()}
    rows = await Campaign.insert(
        Campaign(
            **values, kind=kind, status="draft", created_by=actor, created_at=now, updated_at=now
        )
    ).returning(Campaign.id)
    await platform.audit(
        actor=actor,
        action="campaign.create",
        subject=f"campaign:{rows[0]['id']}",
        details={"name": data.name},
    )
    return await get_campaign(int(rows[0]["id"]))


async def update_campaign(campaign_id: int, data: CampaignIn, *, now: datetime) -> CampaignOut:
    camp = await _row(campaign_id)
    # An automatic message (welcome, birthday) keeps sending: its texts change at any time.
    if camp["kind"] == "manual" and camp["status"] not in ("draft", "scheduled"):
        raise CampaignNotEditable(
            f"campaign {campaign_id} is {camp['status']}; only drafts and scheduled ones change",
            {"status": camp["status"]},
        )
    await _check_audience(data, now)
    await Campaign.update({**_values(data), Campaign.updated_at: now}).where(
        Campaign.id == campaign_id
    )
    return await get_campaign(campaign_id)


async def figures(campaign_id: int, channels: list[str]) -> list[ChannelFigures]:
    rows = await db.fetch(queries.FIGURES, campaign_id)
    out = []
    for channel in channels:
        mine = [row for row in rows if row["channel"] == channel]
        by_status: dict[str, int] = defaultdict(int)
        reasons: dict[str, int] = defaultdict(int)
        for row in mine:
            by_status[row["status"]] += int(row["n"])
            if row["status"] in ("failed", "skipped") and row["reason"]:
                reasons[f"{row['status']}: {row['reason']}"] += int(row["n"])
        out.append(
            ChannelFigures(
                channel=channel,
                targeted=sum(by_status.values()),
                pending=by_status["pending"] + by_status["sending"],
                sent=by_status["sent"],
                failed=by_status["failed"],
                skipped=by_status["skipped"],
                cancelled=by_status["cancelled"],
                unsubscribed=sum(int(row["u"]) for row in mine),
                reasons=dict(reasons),
            )
        )
    return out


def _out(camp: dict[str, Any], found: list[ChannelFigures]) -> CampaignOut:
    flt = camp["filter"]
    return CampaignOut(
        id=camp["id"],
        name=camp["name"],
        kind=camp["kind"],
        channels=camp["channels"],
        segment_id=camp["segment_id"],
        filter=msgspec.convert(flt, SegmentFilter) if flt else None,
        template=camp["template"],
        subject=camp["subject"],
        body=camp["body"],
        push_header=camp["push_header"],
        push_text=camp["push_text"],
        status=camp["status"],
        scheduled_at=camp["scheduled_at"],
        started_at=camp["started_at"],
        finished_at=camp["finished_at"],
        cancelled_at=camp["cancelled_at"],
        email_rate=camp["email_rate"],
        push_rate=camp["push_rate"],
        created_by=camp["created_by"],
        created_at=camp["created_at"],
        figures=found,
    )


async def get_campaign(campaign_id: int) -> CampaignOut:
    camp = await _row(campaign_id)
    return _out(camp, await figures(campaign_id, camp["channels"]))


async def list_campaigns(*, kind: str | None = None) -> list[CampaignOut]:
    query = Campaign.select().order_by(Campaign.id, ascending=False)
    if kind is not None:
        query = query.where(Campaign.kind == kind)
    out = []
    for camp in await query:
        camp["channels"] = db.json_value(camp["channels"])
        camp["filter"] = db.json_value(camp["filter"])
        out.append(_out(camp, await figures(camp["id"], camp["channels"])))
    return out


async def audience(camp: dict[str, Any]) -> SegmentFilter:
    if camp["segment_id"] is not None:
        return (await segments.get_segment(camp["segment_id"])).filter
    return msgspec.convert(camp["filter"] or {}, SegmentFilter)


async def preview(campaign_id: int, *, now: datetime) -> CampaignPreview:
    """What the first shopper of the audience would get, and how many would."""
    camp = await _row(campaign_id)
    shown = await segments.preview(await audience(camp), now=now, sample_size=1)
    sample = shown.sample[0].account_id if shown.sample else None
    recipient = (await segments.recipients([sample], now=now)).get(sample) if sample else None
    context = context_of(recipient, campaign_id)
    subject, html, text = render_email(camp, context, lang=_lang(recipient))
    header, push = push_texts(camp, context) if camp["push_text"] else ("", "")
    return CampaignPreview(
        audience=shown.count,
        sample_account_id=sample,
        email_subject=subject,
        email_html=html,
        email_text=text,
        push_header=header,
        push_text=push,
    )


async def schedule(campaign_id: int, at: datetime, *, actor: str, now: datetime) -> CampaignOut:
    """Send at ``at`` (a time without an offset is the program's local time)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=settings_module.get().tz)
    at = clock.to_utc(at)
    camp = await _row(campaign_id)
    if camp["status"] not in ("draft", "scheduled"):
        raise CampaignNotEditable(
            f"campaign {campaign_id} is {camp['status']}; it cannot be scheduled again",
            {"status": camp["status"]},
        )
    at = max(at, now)
    await Campaign.update(
        {Campaign.status: "scheduled", Campaign.scheduled_at: at, Campaign.updated_at: now}
    ).where(Campaign.id == campaign_id)
    # The job carries the time it was queued for: a reschedule queues another, and the
    # start job whose time is no longer the campaign's does nothing.
    await platform.enqueue(
        kind="campaign_start",
        payload={"campaign_id": campaign_id, "at": at.isoformat()},
        dedupe_key=f"campaign:{campaign_id}:start:{int(at.timestamp())}",
        due_at=at,
    )
    await platform.audit(
        actor=actor,
        action="campaign.schedule",
        subject=f"campaign:{campaign_id}",
        details={"at": at.isoformat()},
    )
    return await get_campaign(campaign_id)


async def cancel(campaign_id: int, *, actor: str, now: datetime) -> CampaignOut:
    camp = await _row(campaign_id)
    if camp["status"] in ("sent", "cancelled"):
        raise CampaignNotEditable(
            f"campaign {campaign_id} is already {camp['status']}", {"status": camp["status"]}
        )
    await Campaign.update(
        {Campaign.status: "cancelled", Campaign.cancelled_at: now, Campaign.updated_at: now}
    ).where(Campaign.id == campaign_id)
    await db.fetch(queries.CANCEL_PENDING, campaign_id)
    await platform.audit(
        actor=actor, action="campaign.cancel", subject=f"campaign:{campaign_id}", details={}
    )
    return await get_campaign(campaign_id)


# ---- start: the audience becomes delivery rows ------------------------------------------

# A delivery queued while the shopper consented, whose consent was withdrawn before it went.
CONSENT_WITHDRAWN = "consent_withdrawn"


async def materialize(
    campaign_id: int,
    channel: str,
    flt: SegmentFilter,
    *,
    now: datetime,
    occasion: str = "",
) -> None:
    """One delivery row per matching shopper, in one statement; rows already there stay."""
    p = db.Params()
    compiled = await segments.compile_filter(flt, now=now, params=p)
    suffix = f":{channel}" + (f":{occasion}" if occasion else "")
    text = queries.materialize(
        p, campaign_id=campaign_id, channel=channel, suffix=suffix, now=now, where=compiled.where
    )
    await db.fetch(text, *p.values)


async def start(campaign_id: int, at: str, *, now: datetime) -> bool:
    """The start job: deliveries for the audience, then one send job per channel."""
    async with db.write_transaction():
        camp = await _row(campaign_id)
        due = camp["scheduled_at"]
        if camp["status"] != "scheduled" or due is None or due.isoformat() != at:
            return False  # cancelled, or rescheduled to another time
        flt = await audience(camp)
        for channel in camp["channels"]:
            await materialize(campaign_id, channel, flt, now=now)
        await Campaign.update(
            {
                Campaign.status: "sending",
                Campaign.started_at: now,
                Campaign.filter: msgspec.json.encode(flt).decode(),
                Campaign.updated_at: now,
            }
        ).where(Campaign.id == campaign_id)
        for channel in camp["channels"]:
            await queue_send(campaign_id, channel)
    return True


async def queue_send(campaign_id: int, channel: str, *, due_at: datetime | None = None) -> None:
    await platform.enqueue(
        kind="campaign_send",
        payload={"campaign_id": campaign_id, "channel": channel},
        dedupe_key=f"campaign:{campaign_id}:send:{channel}",
        due_at=due_at,
    )


# ---- sending ------------------------------------------------------------------------------


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
    """Outcomes written in small groups right after the sends (one UPDATE per outcome)."""

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
            now + LEASE,
            after_id,
            campaign_id,
            channel,
            now,
            limit,
        )
    return sorted(rows, key=lambda row: int(row["id"]))


def _reason(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, InvalidInput) else str(exc)
    return f"{type(exc).__name__}: {message}"


class TransientFailure(Exception):
    """The receiver is down; the row goes back to pending and the slice retries later."""


async def _send_email(
    camp: dict[str, Any], row: dict[str, Any], recipient: segments.Recipient | None
) -> tuple[str, str]:
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
    try:
        await mail.send_message(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
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
    try:
        while time.monotonic() < deadline:
            if after_id and (await _row(campaign_id))["status"] != "sending":
                return "cancelled"
            now = clock.now()
            rows = await _claim(campaign_id, channel, after_id=after_id, limit=batch, now=now)
            if not rows:
                break
            after_id = int(rows[-1]["id"])
            progressed = True
            inflight.update(int(r["id"]) for r in rows)
            found = await segments.recipients([int(r["account_id"]) for r in rows], now=now)
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
                await marks.add(int(row["id"]), status, reason)

            await asyncio.gather(*(one(row) for row in rows))
            await marks.flush()
            if transient:
                break
    finally:
        # A cancelled task (a stopping worker) still records what it sent and hands back
        # what it did not.
        await asyncio.shield(_wind_up(marks, inflight))
        if http is not None:
            await http.aclose()
    if transient:
        raise RetryLater(f"{channel} receiver unavailable: {transient[0]}", seconds=10)
    result = await _finish_if_done(campaign_id)
    # Rows left are leased by another worker (or a dead one, until its lease ends).
    return "waiting" if result == "more" and not progressed else result


async def _wind_up(marks: Marks, inflight: set[int]) -> None:
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
        async with db.write_transaction():
            await Campaign.update(
                {Campaign.status: "sent", Campaign.finished_at: clock.now()}
            ).where((Campaign.id == campaign_id) & (Campaign.status == "sending"))
    return "done"


# ---- test sends -----------------------------------------------------------------------------


async def test_send(
    campaign_id: int, *, email: str | None, card_number: str | None, actor: str, now: datetime
) -> list[str]:
    """The campaign's message to one address or card now; nothing is counted."""
    if not email and not card_number:
        raise InvalidInput("give an email or a card_number", {"fields": ["email", "card_number"]})
    camp = await _row(campaign_id)
    recipient = None
    if card_number:
        card = await members.find_card(card_number)
        recipient = (await segments.recipients([card.account_id], now=now)).get(card.account_id)
    context = context_of(recipient, campaign_id)
    sent = []
    if email or (recipient and recipient.email and "email" in camp["channels"]):
        to = email or (recipient.email if recipient else None)
        assert to is not None
        message = email_message(camp, context, to=to, lang=_lang(recipient), message_key=None)
        message.replace_header("Subject", f"[ТЕСТ] {message['Subject']}")
        await mail.send_message(message)
        sent.append(f"email:{to}")
    if card_number and recipient and "push" in camp["channels"]:
        header, text = push_texts(camp, context)
        pushed = pass_messages.PushMessage(
            account_id=recipient.account_id,
            header=header,
            text=text,
            message_id=f"campaign-{campaign_id}-test-{int(now.timestamp())}",
        )
        async with db.write_transaction():
            await pass_messages.push_messages([pushed], now=now)
        sent.append(f"push:{card_number}")
    async with db.write_transaction():
        await platform.audit(
            actor=actor,
            action="campaign.test_send",
            subject=f"campaign:{campaign_id}",
            details={"sent": sent},
        )
    return sent
