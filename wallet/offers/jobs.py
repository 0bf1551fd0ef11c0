"""What the worker runs for cashback and expiry: the month-end settlement a few days after
the month ends, the daily expiry sweep with burn reminders, the month-start opening of
renewing goals, and the pass updates and outcome emails of a settled month in batches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from wallet import clock, db
from wallet import settings as settings_module
from wallet.ledger import service as ledger
from wallet.mail import service as mail
from wallet.members import service as members
from wallet.offers import expiry, progress, queries, service, settlement
from wallet.offers.events import CashbackSettled
from wallet.platform import events
from wallet.platform import service as platform
from wallet.platform.worker import register, register_schedule

NOTIFY_BATCH = 500


def _local(now: datetime) -> datetime:
    return now.astimezone(settings_module.get().tz)


def settle_slot(now: datetime) -> str | None:
    """The month to settle: the previous one, once ``cashback_settle_days`` have passed."""
    local = _local(now)
    if local.day <= settings_module.get().cashback_settle_days:
        return None
    return service.shift_month(f"{local.year:04d}-{local.month:02d}", -1)


def daily_slot(now: datetime) -> str:
    return _local(now).date().isoformat()


def month_slot(now: datetime) -> str:
    return service.month_key(now)


def _not_before(moment: datetime) -> datetime:
    """Schedules may be run ahead of the clock (tests, a catch-up with --as-of): act as of
    the slot's own time, never earlier than now."""
    return max(clock.now(), moment)


async def settle(payload: dict[str, Any]) -> None:
    month = payload["slot"]
    _start, end = service.month_bounds(month)
    days = settings_module.get().cashback_settle_days
    await settlement.settle_month(month, now=_not_before(end + timedelta(days=days)))


async def expire_and_remind(payload: dict[str, Any]) -> None:
    day = datetime.fromisoformat(payload["slot"]).replace(tzinfo=settings_module.get().tz)
    now = _not_before(clock.to_utc(day))
    await ledger.expire_due(now=now)
    await expiry.send_reminders(now=now)


async def open_month(payload: dict[str, Any]) -> None:
    start, _end = service.month_bounds(payload["slot"])
    await progress.open_month(payload["slot"], now=_not_before(start))


def _accounts(payload: dict[str, Any]) -> tuple[int, int] | None:
    """The account range a settlement transaction covered (PostgreSQL), or None: all."""
    accounts = payload.get("accounts")
    return (int(accounts[0]), int(accounts[1])) if accounts else None


# A pass-update job works this long, then queues the rest (the outbox lease is 60 s).
PASS_SLICE_SECONDS = 20.0


async def pass_updates(payload: dict[str, Any]) -> None:
    """The settled accounts that have a pass get it rebuilt (new balance, goal reset), in
    slices: a slice that runs out of time queues the next one where it stopped."""
    after = await settlement.refresh_passes(
        int(payload["offer_id"]),
        payload["month"],
        settled_at=datetime.fromisoformat(payload["settled_at"]),
        accounts=_accounts(payload),
        after=int(payload.get("after", 0)),
        seconds=PASS_SLICE_SECONDS,
    )
    if after is not None:
        async with db.write_transaction():
            await platform.enqueue(
                kind="offers.pass_updates",
                payload={**payload, "after": after},
                dedupe_key=f"offers:pass_updates:{payload['offer_id']}:{payload['month']}:"
                f"{payload['settled_at']}:{payload.get('accounts')}:{after}"[:120],
            )


async def notify(payload: dict[str, Any]) -> None:
    """Tell each shopper of a settled month how it went, in batches; a retry resumes
    where it stopped (``notified``), and each email has its own dedupe key."""
    offer_id, month, accounts = int(payload["offer_id"]), payload["month"], _accounts(payload)
    while True:
        async with db.write_transaction():
            rows = await settlement.unnotified(
                offer_id, month, limit=NOTIFY_BATCH, accounts=accounts
            )
            if not rows:
                return
            for row in rows:
                await events.publish(
                    CashbackSettled(
                        account_id=int(row["account_id"]),
                        offer_id=offer_id,
                        month=month,
                        outcome=row["outcome"],
                        reward_points=int(row["reward_points"]),
                        goal_kopecks=int(row["goal_kopecks"]),
                        spent_kopecks=int(row["spent_kopecks"]),
                        now=clock.now(),
                    )
                )
                member = await members.member_of_account(int(row["account_id"]))
                if not member or not member["email"] or not member["marketing_email"]:
                    continue
                reached = row["outcome"] == "reached"
                await mail.queue_email(
                    to=member["email"],
                    template="cashback_reached" if reached else "cashback_missed",
                    lang=member["language"],
                    context={
                        "name": member["name"],
                        "month": month,
                        "points": int(row["reward_points"]),
                        "missed_by_kopecks": max(
                            0, int(row["goal_kopecks"]) - int(row["spent_kopecks"])
                        ),
                        "goal_kopecks": int(row["goal_kopecks"]),
                        "spent_kopecks": int(row["spent_kopecks"]),
                        "card_url": f"{settings_module.get().base_url}/card",
                        "cashback_url": f"{settings_module.get().base_url}/cashback",
                    },
                    dedupe_key=f"cashback:{row['id']}",
                )
            ids = [int(row["id"]) for row in rows]
            text, args = queries.mark_notified(ids)
            await db.fetch(text, *args)


register("offers.settle", settle, max_attempts=5)
register("offers.expire", expire_and_remind, max_attempts=5)
register("offers.open_month", open_month, max_attempts=5)
register("offers.notify", notify, max_attempts=10)
register("offers.pass_updates", pass_updates, max_attempts=10)
register_schedule("offers.settle", kind="offers.settle", slot=settle_slot)
register_schedule("offers.expire", kind="offers.expire", slot=daily_slot)
register_schedule("offers.open_month", kind="offers.open_month", slot=month_slot)
