"""Points that burn: the reminders before they do.

Expiry itself is the ledger's (``ledger.expire_due``, run by the worker every five minutes
and before the daily reminders). Reminders go out N days before points burn (``WALLET_BURN_REMINDER_DAYS``,
default 30 and 7), once per account, burn date and lead time: a pass update (the pass
shows "300 points burn on 31 January" with a lock-screen message) and an email to
shoppers who consented to email.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from wallet import clock, db, words
from wallet import settings as settings_module
from wallet.mail import service as mail
from wallet.members import service as members
from wallet.offers import queries
from wallet.offers.tables import BurnReminder
from wallet.passsync import outbox as pass_outbox


def date_ru(day: date) -> str:
    """'31 января 2027' (``words.date``)."""
    return words.date(day, "ru")


async def _burning(
    *, after: datetime, until: datetime, account_ids: list[int] | None = None
) -> dict[tuple[int, date], tuple[int, datetime]]:
    """Spendable points burning in (after, until], per account and local date: the points
    and the earliest burn time of that date."""
    zone = settings_module.get().tz
    text, args = queries.expiring_batches(after, until, account_ids)
    batches: dict[tuple[int, date], tuple[int, datetime]] = {}
    for row in await db.fetch(db.sql(text, expires_at=db.timestamp), *args):
        at = row["expires_at"]
        # A lot that burns at midnight local time burns "on" the day before, as a shopper
        # reads it: "valid until 31 January" means gone on 1 February.
        day = (at - timedelta(microseconds=1)).astimezone(zone).date()
        key = (int(row["account"]), day)
        points, first = batches.get(key, (0, at))
        batches[key] = (points + int(row["points"]), min(first, at))
    return batches


async def send_reminders(*, now: datetime) -> int:
    """Remind every account whose points burn within the lead times; returns how many
    reminders (account, burn date) went out. Each batch gets the reminder of the shortest
    lead time that covers it, so a batch first seen 5 days ahead gets the 7-day one only.
    An account with several dates due at once gets one email listing them all (three
    emails in the same minute for three dates read as a glitch, and their figures did not
    add up to anything the card shows)."""
    leads = sorted(settings_module.get().burn_reminder_days)
    if not leads:
        return 0
    zone = settings_module.get().tz
    today = now.astimezone(zone).date()
    batches = await _burning(after=now, until=now + timedelta(days=leads[-1] + 1))
    due: dict[int, list[tuple[date, int, datetime, int, int]]] = {}
    for (account_id, day), (points, burns_at) in sorted(batches.items()):
        days_left = (day - today).days
        lead = next((n for n in leads if days_left <= n), None)
        if lead is None or points <= 0:
            continue
        due.setdefault(account_id, []).append((day, points, burns_at, lead, days_left))
    sent = 0
    for account_id, burns in due.items():
        async with db.write_transaction():
            reminded: list[tuple[date, int, int]] = []
            first_id: int | None = None
            for day, points, burns_at, lead, days_left in burns:
                inserted = await (
                    BurnReminder.insert(
                        BurnReminder(
                            reminder_key=f"{account_id}:{day.isoformat()}:{lead}",
                            account_id=account_id,
                            burns_on=day,
                            burns_at=burns_at,
                            days_before=lead,
                            points=points,
                            sent_at=now,
                        )
                    )
                    .on_conflict(target=BurnReminder.reminder_key, action="DO NOTHING")
                    .returning(BurnReminder.id)
                )
                if inserted:
                    reminded.append((day, points, days_left))
                    first_id = first_id or int(inserted[0]["id"])
            if not reminded or first_id is None:
                continue
            await pass_outbox.queue_pass_update(account_id)
            await _email(account_id, reminded, key=first_id)
        sent += len(reminded)
    return sent


async def _email(account_id: int, burns: list[tuple[date, int, int]], *, key: int) -> None:
    member = await members.member_of_account(account_id)
    if not member or not member["email"] or not member["marketing_email"]:
        return
    await mail.queue_email(
        to=member["email"],
        template="expiry_reminder",
        lang=member["language"],
        context={
            "name": member["name"],
            "burns": [
                {"day": day.isoformat(), "points": points, "days_left": days_left}
                for day, points, days_left in burns
            ],
            "total": sum(points for _day, points, _left in burns),
            "card_url": f"{settings_module.get().base_url}/card",
        },
        dedupe_key=f"expiry:reminder:{key}",
    )


async def reminder_due(account_id: int, *, now: datetime) -> tuple[int, datetime] | None:
    """The points of the next burn a reminder went out for, and when they burn."""
    found = (await reminders_due([account_id], now=now)).get(account_id)
    return None if found is None else (found[0], found[2])


async def reminders_due(
    account_ids: list[int], *, now: datetime
) -> dict[int, tuple[int, date, datetime]]:
    """``reminder_due`` for many accounts in two queries a 500 (passes are rebuilt in
    batches): points, local day and time of each account's next reminded burn that still
    has points left; accounts without one are left out."""
    zone = settings_module.get().tz
    today = now.astimezone(zone).date()
    ids = sorted(set(account_ids))
    found: dict[int, tuple[int, date, datetime]] = {}
    for chunk in db.chunks(ids):
        days: dict[int, date] = {}
        for row in (
            await BurnReminder.select(BurnReminder.account_id, BurnReminder.burns_on)
            .where((BurnReminder.account_id.is_in(chunk)) & (BurnReminder.burns_on >= today))
            .order_by(BurnReminder.burns_on)
        ):
            days.setdefault(int(row["account_id"]), row["burns_on"])
        if not days:
            continue
        starts = {
            day: clock.to_utc(datetime(day.year, day.month, day.day, tzinfo=zone))
            for day in set(days.values())
        }
        batches = await _burning(
            after=max(now, min(starts.values())),
            until=max(starts.values()) + timedelta(days=1),
            account_ids=sorted(days),
        )
        for account_id, day in days.items():
            burning = batches.get((account_id, day))
            if burning is not None and burning[0] > 0 and burning[1] > now:
                found[account_id] = (burning[0], day, burning[1])
    return found
