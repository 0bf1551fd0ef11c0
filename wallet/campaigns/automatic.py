"""Automatic messages: system campaigns that never finish, fed by schedules.

Each occasion is one campaign row of its own ``kind`` (``welcome``, ``birthday``), made by a
marketer switching it on (``enable``; the default texts are below and editable like any
campaign's; ``cancel`` switches it off). While it is ``sending``, a schedule copies the
shoppers whose occasion has come into ``delivery`` rows with the key
``<campaign>:<account>:<channel>:<occasion>`` and queues the same send job as a manual
campaign: the same consent checks (at copy time and again at send time), the same figures,
the same crash-safety, and a shopper gets one message per occasion however often the
schedule runs.

- welcome: every minute, shoppers who joined in the last ``WELCOME_WITHIN`` and have no
  welcome row yet (occasion ``joined``; once per account). A worker down for longer than
  that skips the late ones rather than welcoming them days later.
- birthday: once a day from ``BIRTHDAY_HOUR`` in the program's zone, shoppers whose
  birthday is today there (occasion = the year; 29 February birthdays are greeted on
  28 February in other years).

Cashback goal reached or missed and points about to burn are *not* sent from here: offers
already tells those shoppers itself (``offers.jobs.notify`` emails each settled goal's
outcome once, keyed ``cashback:<goal month id>``; ``offers.expiry.send_reminders`` emails
burn reminders once per account, burn date and lead time and updates the pass, whose
lock-screen message shows the burning points). Sending them here as well would reach the
same shopper twice.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from wallet import db
from wallet import settings as settings_module
from wallet.campaigns import queries, service
from wallet.campaigns.schemas import CampaignOut
from wallet.campaigns.tables import Campaign
from wallet.errors import InvalidInput
from wallet.platform import service as platform
from wallet.segments.schemas import SegmentFilter

WELCOME_WITHIN = timedelta(hours=24)
BIRTHDAY_HOUR = 9


@dataclass(frozen=True)
class Occasion:
    name: str
    template: str
    subject: str
    body: str
    push_header: str
    push_text: str


OCCASIONS: dict[str, Occasion] = {
    "welcome": Occasion(
        name="Приветствие новому участнику",
        template="campaign_welcome",
        subject="{{ name }}, добро пожаловать в программу лояльности",
        body=(
            "Ваша карта уже работает: покажите её QR-код на кассе, и баллы начислятся сами."
            "\n\nДобавьте карту в Apple Wallet или Google Wallet, чтобы она всегда была под "
            "рукой."
        ),
        push_header="Добро пожаловать",
        push_text="{{ name }}, ваша карта готова: покажите её на кассе",
    ),
    "birthday": Occasion(
        name="Поздравление с днём рождения",
        template="campaign_birthday",
        subject="{{ name }}, с днём рождения!",
        body="Поздравляем вас с днём рождения и ждём в наших магазинах.",
        push_header="С днём рождения!",
        push_text="{{ name }}, поздравляем с днём рождения!",
    ),
}


def _occasion(kind: str) -> Occasion:
    try:
        return OCCASIONS[kind]
    except KeyError:
        raise InvalidInput(
            f"no automatic message {kind!r}; they are {', '.join(OCCASIONS)}", {"kind": kind}
        ) from None


async def _system_row(kind: str) -> dict[str, Any] | None:
    return await (
        Campaign.select(Campaign.id, Campaign.status, Campaign.channels)
        .where(Campaign.kind == kind)
        .order_by(Campaign.id)
        .first()
    )


async def enable(kind: str, *, actor: str, now: datetime) -> CampaignOut:
    """Switch an automatic message on (made with the default texts the first time); in the
    caller's transaction. Idempotent."""
    occasion = _occasion(kind)
    if not db.is_sqlite():
        # Two marketers switching the same message on at once make one campaign: the
        # transaction-scoped lock orders them (SQLite's writer lock already does).
        await db.fetch(queries.ENABLE_LOCK, f"campaign:{kind}")
    row = await _system_row(kind)
    if row is None:
        rows = await Campaign.insert(
            Campaign(
                name=occasion.name,
                kind=kind,
                channels='["email", "push"]',
                filter="{}",
                template=occasion.template,
                subject=occasion.subject,
                body=occasion.body,
                push_header=occasion.push_header,
                push_text=occasion.push_text,
                status="sending",
                started_at=now,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
        ).returning(Campaign.id)
        campaign_id = int(rows[0]["id"])
    else:
        campaign_id = int(row["id"])
        await Campaign.update(
            {Campaign.status: "sending", Campaign.cancelled_at: None, Campaign.updated_at: now}
        ).where(Campaign.id == campaign_id)
    # Today's occasions at once: the schedule's slot for today may have passed while the
    # message was off (a birthday message switched on at noon still greets today's).
    slot = SLOTS[kind](now)
    if slot is not None:
        await platform.enqueue(
            kind=f"campaign_{kind}",
            payload={"slot": slot},
            dedupe_key=f"campaign:{kind}:enable:{slot}",
        )
    await platform.audit(
        actor=actor, action="campaign.enable", subject=f"campaign:{campaign_id}", details={}
    )
    return await service.get_campaign(campaign_id)


async def _feed(kind: str, flt: SegmentFilter, occasion: str, *, now: datetime) -> int:
    """Delivery rows for the shoppers ``flt`` selects, then the send jobs; returns how many
    rows are waiting to be sent. Nothing happens while the message is switched off."""
    async with db.write_transaction():
        row = await _system_row(kind)
        if row is None or row["status"] != "sending":
            return 0
        campaign_id = int(row["id"])
        channels = db.json_value(row["channels"])
        waiting = 0
        for channel in channels:
            await service.materialize(campaign_id, channel, flt, now=now, occasion=occasion)
            found = await db.fetch(queries.PENDING_ON_CHANNEL, campaign_id, channel)
            if int(found[0]["n"]):
                waiting += int(found[0]["n"])
                await service.queue_send(campaign_id, channel)
    return waiting


async def welcome(*, now: datetime) -> int:
    return await _feed(
        "welcome", SegmentFilter(joined_after=now - WELCOME_WITHIN), "joined", now=now
    )


async def birthday(today: date, *, now: datetime) -> int:
    waiting = await _feed(
        "birthday",
        SegmentFilter(birthday_month=today.month, birthday_day=today.day),
        str(today.year),
        now=now,
    )
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        waiting += await _feed(
            "birthday", SegmentFilter(birthday_month=2, birthday_day=29), str(today.year), now=now
        )
    return waiting


def birthday_slot(now: datetime) -> str | None:
    local = now.astimezone(settings_module.get().tz)
    return local.date().isoformat() if local.hour >= BIRTHDAY_HOUR else None


def minute_slot(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M")


SLOTS: dict[str, Callable[[datetime], str | None]] = {
    "welcome": minute_slot,
    "birthday": birthday_slot,
}
