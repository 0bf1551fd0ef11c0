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

import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import msgspec

from wallet import clock, db
from wallet import settings as settings_module
from wallet.campaigns import clicks, holdout, labels, queries, reach
from wallet.campaigns.rendering import (
    context_of,
    email_message,
    language_of,
    push_texts,
    read_unsubscribe_token,
    render_email,
    render_text,
    unsubscribe_url,
)
from wallet.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPreview,
    ChannelFigures,
)
from wallet.campaigns.tables import Campaign
from wallet.errors import Conflict, InvalidInput, NotFound
from wallet.mail import service as mail
from wallet.members import service as members
from wallet.members.schemas import LANGUAGES
from wallet.passsync import messages as pass_messages
from wallet.platform import service as platform
from wallet.segments import service as segments
from wallet.segments.events import SegmentDeleting
from wallet.segments.schemas import SegmentFilter

log = logging.getLogger("wallet.campaigns")


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


class CampaignNotEditable(Conflict):
    code = "campaign_not_editable"


class ScheduledInThePast(InvalidInput):
    code = "schedule_in_the_past"


# A time picked in the console has minutes, not seconds: the current minute is "now".
SCHEDULE_GRACE = timedelta(minutes=1)
# States in which nothing about a campaign changes any more.
FINISHED = ("sent", "undelivered", "cancelled")


# A test send to an address that is no shopper's carries a link for member 0: it opens and
# confirms like a real one, and changes nothing.
TEST_MEMBER = 0


async def unsubscribe(token: str, *, now: datetime) -> dict[str, Any] | None:
    """Turn marketing email off for the token's shopper and count it for the campaign;
    None for a test send's link (nothing to change)."""
    member_id, campaign_id = read_unsubscribe_token(token)
    if member_id == TEST_MEMBER:
        return None
    async with db.write_transaction():
        member = await members.member(member_id)
        await members.set_marketing_consent(
            member_id, "email", False, now=now, source="unsubscribe"
        )
        await db.fetch(queries.MARK_UNSUBSCRIBED, now, campaign_id, member["account_id"])
    return member


def sms_channel() -> Any:
    """The SMS channel's module (``campaigns/sms.py``), which builds on this one: imported
    when first used, not at import time."""
    from wallet.campaigns import sms

    return sms


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
        render_text(text, context_of(None, 0))
    sms_channel().check(channels=list(data.channels), text=data.sms_text, sender=data.sms_sender)
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
        Campaign.sms_text: data.sms_text,
        Campaign.sms_sender: data.sms_sender,
        Campaign.sms_rate: data.sms_rate,
        Campaign.holdout_bp: data.holdout_bp,
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
                # The control group is not targeted: its rows are there to be counted by
                # the campaign report (wallet.reports), never sent.
                targeted=sum(by_status.values()) - by_status[holdout.HELD_OUT],
                pending=by_status["pending"] + by_status["sending"],
                sent=by_status["sent"],
                failed=by_status["failed"],
                skipped=by_status["skipped"],
                cancelled=by_status["cancelled"],
                unsubscribed=sum(int(row["u"]) for row in mine),
                reasons=dict(reasons),
                sms=await sms_channel().figures(campaign_id) if channel == "sms" else None,
                clicked=sum(int(row["c"]) for row in mine),
                maybe_twice=sum(int(row["d"]) for row in mine if row["status"] == "sent"),
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
        sms_text=camp["sms_text"],
        sms_sender=camp["sms_sender"],
        status=camp["status"],
        scheduled_at=camp["scheduled_at"],
        started_at=camp["started_at"],
        finished_at=camp["finished_at"],
        cancelled_at=camp["cancelled_at"],
        cancelled_by=camp["cancelled_by"],
        email_rate=camp["email_rate"],
        push_rate=camp["push_rate"],
        sms_rate=camp["sms_rate"],
        created_by=camp["created_by"],
        created_at=camp["created_at"],
        figures=found,
        holdout_bp=camp["holdout_bp"],
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


async def refuse_if_segment_used(event: SegmentDeleting) -> None:
    """A campaign not sent yet takes its audience from its segment (subscribed in
    ``wallet.wiring``): deleting the segment would leave the campaign with none."""
    rows = (
        await Campaign.select(Campaign.id, Campaign.name)
        .where(
            (Campaign.segment_id == event.segment_id)
            & Campaign.status.is_in(["draft", "scheduled", "sending"])
        )
        .order_by(Campaign.id)
    )
    if rows:
        named = ", ".join(f"{row['id']} «{row['name']}»" for row in rows)
        raise segments.SegmentInUse(
            f"segment {event.segment_id} is the audience of campaign {named}; cancel the "
            "campaign or give it another segment first",
            {
                "segment_id": event.segment_id,
                "campaign_ids": [row["id"] for row in rows],
                "campaign_names": [row["name"] for row in rows],
            },
        )


async def audience(camp: dict[str, Any]) -> SegmentFilter:
    if camp["segment_id"] is not None:
        return (await segments.get_segment(camp["segment_id"])).filter
    return msgspec.convert(camp["filter"] or {}, SegmentFilter)


async def preview(campaign_id: int, *, now: datetime) -> CampaignPreview:
    """What the first shopper of the audience would get, and how many would."""
    camp = await _row(campaign_id)
    flt = await audience(camp)
    shown = await segments.preview(flt, now=now, sample_size=1)
    sample = shown.sample[0].account_id if shown.sample else None
    recipient = (await segments.recipients([sample], now=now)).get(sample) if sample else None
    # A marketer trying the preview's links is not the sample shopper clicking.
    context = {**context_of(recipient, campaign_id), "account_id": clicks.TEST_ACCOUNT}
    subject, html, text = render_email(camp, context, lang=language_of(recipient))
    header, push = push_texts(camp, context) if camp["push_text"] else ("", "")
    sms_text, sms_parts, sms_audience, sms_cost = "", 0, 0, 0
    if camp["sms_text"]:
        sms_text = sms_channel().rendered(camp, recipient)
        sms_audience, _parts, _cost = await sms_channel().estimate(camp, flt, now=now)
        # The cost at the sample's length: names vary, so it is an estimate.
        sms_parts = sms_channel().parts_of(sms_text)
        sms_cost = sms_channel().cost_kopecks(sms_audience * sms_parts)
    reachable, channels = await reach.reach(await audience(camp), camp["channels"], now=now)
    return CampaignPreview(
        audience=shown.count,
        reachable=reachable,
        channels=channels,
        sample_account_id=sample,
        email_subject=subject,
        # The inline logo as a data: URL: the console shows the HTML without its message.
        email_html=mail.viewable(html),
        email_text=text,
        push_header=header,
        push_text=push,
        sms_text=sms_text,
        sms_parts=sms_parts,
        sms_audience=sms_audience,
        sms_cost_kopecks=sms_cost,
    )


async def schedule(campaign_id: int, at: datetime, *, actor: str, now: datetime) -> CampaignOut:
    """Send at ``at`` (a time without an offset is the program's local time). A time
    already past is refused: it would send at once to the whole audience, which is what
    "send now" (with its confirmation) is for."""
    tz = settings_module.get().tz
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    at = clock.to_utc(at)
    if at < now - SCHEDULE_GRACE:
        shown, current = at.astimezone(tz), now.astimezone(tz)
        raise ScheduledInThePast(
            f"Время отправки {shown:%d.%m.%Y %H:%M} {labels.zone(tz, at)} уже прошло: сейчас "
            f"{current:%d.%m.%Y %H:%M}. Выберите время позже или отправьте сейчас.",
            {"at": at.isoformat(), "now": now.isoformat(), "time_zone": tz.key},
        )
    return await _queue(campaign_id, max(at, now), actor=actor, now=now)


async def send_now(campaign_id: int, *, actor: str, now: datetime) -> CampaignOut:
    return await _queue(campaign_id, now, actor=actor, now=now)


async def _queue(campaign_id: int, at: datetime, *, actor: str, now: datetime) -> CampaignOut:
    camp = await _row(campaign_id)
    if camp["status"] not in ("draft", "scheduled"):
        raise CampaignNotEditable(
            f"campaign {campaign_id} is {camp['status']}; it cannot be scheduled again",
            {"status": camp["status"]},
        )
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
    if camp["status"] in FINISHED:
        raise CampaignNotEditable(
            f"campaign {campaign_id} is already {camp['status']}", {"status": camp["status"]}
        )
    await Campaign.update(
        {
            Campaign.status: "cancelled",
            Campaign.cancelled_at: now,
            Campaign.cancelled_by: actor,
            Campaign.updated_at: now,
        }
    ).where(Campaign.id == campaign_id)
    await db.fetch(queries.CANCEL_PENDING, campaign_id)
    await platform.audit(
        actor=actor, action="campaign.cancel", subject=f"campaign:{campaign_id}", details={}
    )
    return await get_campaign(campaign_id)


async def copy_campaign(campaign_id: int, *, actor: str, now: datetime) -> CampaignOut:
    """A new draft with the campaign's audience, channels, texts and rates (any campaign,
    sent or cancelled too: a marketer repeats last month's mailing). A segment deleted
    since is replaced by the filter the campaign was sent with."""
    camp = await _row(campaign_id)
    segment_id = camp["segment_id"]
    if segment_id is not None and not await segments.segments_by_id([segment_id]):
        segment_id = None
    name = f"Копия: {camp['name']}"[:200]
    rows = await Campaign.insert(
        Campaign(
            name=name,
            kind="manual",
            channels=json.dumps(camp["channels"]),
            segment_id=segment_id,
            filter=json.dumps(camp["filter"] or {}),
            template=camp["template"],
            subject=camp["subject"],
            body=camp["body"],
            push_header=camp["push_header"],
            push_text=camp["push_text"],
            email_rate=camp["email_rate"],
            push_rate=camp["push_rate"],
            sms_text=camp["sms_text"],
            sms_sender=camp["sms_sender"],
            sms_rate=camp["sms_rate"],
            holdout_bp=camp["holdout_bp"],
            status="draft",
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    ).returning(Campaign.id)
    copied = int(rows[0]["id"])
    await platform.audit(
        actor=actor,
        action="campaign.copy",
        subject=f"campaign:{copied}",
        details={"from": campaign_id},
    )
    return await get_campaign(copied)


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
    holdout_bp: int = 0,
) -> None:
    """One delivery row per matching shopper, in one statement; rows already there stay
    (``holdout_bp``: the share held out as a control group, see ``holdout``)."""
    p = db.Params()
    compiled = await segments.compile_filter(flt, now=now, params=p)
    suffix = f":{channel}" + (f":{occasion}" if occasion else "")
    text = queries.materialize(
        p,
        campaign_id=campaign_id,
        channel=channel,
        suffix=suffix,
        now=now,
        where=compiled.where,
        holdout_bp=holdout_bp,
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
            await materialize(campaign_id, channel, flt, now=now, holdout_bp=camp["holdout_bp"])
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
    if recipient is None:
        # The marketer sees the footer a shopper gets, with a link that opens.
        context["unsubscribe_url"] = unsubscribe_url(TEST_MEMBER, campaign_id)
    sent = []
    if email or (recipient and recipient.email and "email" in camp["channels"]):
        to = email or (recipient.email if recipient else None)
        assert to is not None
        message = email_message(camp, context, to=to, lang=language_of(recipient), message_key=None)
        mail.set_subject(message, f"[ТЕСТ] {message['Subject']}")
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
