"""Bulk and scheduled accruals (issue #15): a marketer credits or debits every account of a
saved segment, now or at a time, once or monthly.

A run goes through the ledger's door one account at a time (``ledger.account``: lock,
movement, totals), in transactions of ``CHUNK`` accounts. With each account's movement it
writes the account's mark for the run (``accrual_credit.credit_key``, unique), so a rerun
of the run, or the worker's retry after a crash mid-way, finds the accounts already done
and moves nothing for them: one journal entry per account per run, whatever happens. The
audience is the segment as it is when the run starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from wallet import clock, db
from wallet import settings as settings_module
from wallet.accruals import queries
from wallet.accruals.schemas import AccrualIn, AccrualOut, AccrualPreviewIn, AccrualPreviewOut
from wallet.errors import DomainError, NotFound
from wallet.ledger import service as ledger
from wallet.mail import service as mail
from wallet.members import service as members
from wallet.platform import service as platform
from wallet.rules import service as rules_service
from wallet.segments import service as segments

# The outbox kind of a run (``wallet.accruals.jobs``), payload {"accrual_id", "run"}.
RUN = "accrual_run"
# Accounts per transaction: each is locked, moved and marked; a crash loses at most this
# chunk's uncommitted work, which the retry does again.
CHUNK = 200


class AccrualNotFound(NotFound):
    code = "accrual_not_found"


class AccrualRefused(DomainError):
    status_code = 422

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, details)
        self.code = code  # type: ignore[misc]


async def _audience(segment_id: int, *, now: datetime) -> list[int]:
    segment = await segments.get_segment(segment_id)
    return await segments.account_ids(segment.filter, now=now)


async def preview(data: AccrualPreviewIn, *, now: datetime) -> AccrualPreviewOut:
    """How many shoppers a run would reach now and what it would cost; an empty segment
    is refused (a bulk credit to nobody is a mistake)."""
    if data.points == 0:
        raise AccrualRefused("accrual_points_zero", "0 points change nobody's balance")
    shoppers = len(await _audience(data.segment_id, now=now))
    if shoppers == 0:
        raise AccrualRefused(
            "accrual_segment_empty",
            f"segment {data.segment_id} holds no shopper now",
            {"segment_id": data.segment_id},
        )
    rules = await rules_service.rules_at(now)
    return AccrualPreviewOut(
        segment_id=data.segment_id,
        shoppers=shoppers,
        points_total=shoppers * data.points,
        cost_kopecks=shoppers * data.points * rules.point_value_kopecks,
    )


def _out(row: dict[str, Any]) -> AccrualOut:
    return AccrualOut(
        id=row["id"],
        name=row["name"],
        segment_id=row["segment_id"],
        points=row["points"],
        valid_days=row["valid_days"],
        reason=row["reason"],
        repeat=row["repeat"],
        notify_email=bool(db.boolean(row["notify_email"])),
        status=row["status"],
        next_run_at=db.timestamp(row["next_run_at"]),
        runs=row["runs"],
        last_run_at=db.timestamp(row["last_run_at"]),
        credited_accounts=int(row["credited_accounts"]),
        credited_points=int(row["credited_points"]),
        created_by=row["created_by"],
        created_at=db.timestamp(row["created_at"]),  # type: ignore[arg-type]
    )


async def create(data: AccrualIn, *, actor: str, now: datetime) -> AccrualOut:
    """Save the accrual and queue its first run (at ``run_at``, or now), in the caller's
    transaction; refused for 0 points, an unknown or empty segment, a time without offset."""
    if data.run_at is not None and data.run_at.tzinfo is None:
        raise AccrualRefused("run_at_needs_offset", "run_at needs a UTC offset")
    await preview(AccrualPreviewIn(segment_id=data.segment_id, points=data.points), now=now)
    run_at = max(now, clock.to_utc(data.run_at)) if data.run_at else now
    rows = await db.fetch(
        queries.INSERT,
        data.name,
        data.segment_id,
        data.points,
        data.valid_days,
        data.reason,
        data.repeat,
        run_at,
        actor,
        now,
        data.notify_email,
    )
    accrual_id = int(rows[0]["id"])
    await _queue(accrual_id, 0, run_at)
    await platform.audit(
        actor=actor,
        action="accrual.create",
        subject=f"accrual:{accrual_id}",
        details={
            "segment_id": data.segment_id,
            "points": data.points,
            "repeat": data.repeat,
            "run_at": run_at.isoformat(),
            "reason": data.reason,
        },
    )
    return await get(accrual_id)


async def _queue(accrual_id: int, run_no: int, at: datetime) -> None:
    await platform.enqueue(
        kind=RUN,
        payload={"accrual_id": accrual_id, "run": run_no},
        dedupe_key=f"accrual:{accrual_id}:{run_no}",
        due_at=at,
    )


async def get(accrual_id: int) -> AccrualOut:
    rows = await db.fetch(queries.ONE, accrual_id)
    if not rows:
        raise AccrualNotFound(f"no accrual {accrual_id}", {"accrual_id": accrual_id})
    return _out(rows[0])


async def list_all() -> list[AccrualOut]:
    return [_out(row) for row in await db.fetch(queries.ALL)]


async def cancel(accrual_id: int, *, actor: str) -> AccrualOut:
    """Stop a scheduled accrual (a monthly one's next runs too); what ran stays."""
    rows = await db.fetch(queries.LOCKED, accrual_id)
    if not rows:
        raise AccrualNotFound(f"no accrual {accrual_id}", {"accrual_id": accrual_id})
    if rows[0]["status"] != "scheduled":
        raise AccrualRefused(
            "accrual_not_scheduled",
            f"accrual {accrual_id} is {rows[0]['status']}; only a scheduled one can be cancelled",
            {"status": rows[0]["status"]},
        )
    await db.fetch(queries.CANCEL, accrual_id)
    await platform.audit(
        actor=actor, action="accrual.cancel", subject=f"accrual:{accrual_id}", details={}
    )
    return await get(accrual_id)


async def _move(row: dict[str, Any], run_no: int, account_id: int, now: datetime) -> None:
    """One account's part of a run: its mark and its movement, or nothing if marked."""
    accrual_id = row["id"]
    mark = await db.fetch(
        queries.MARK, f"{accrual_id}:{run_no}:{account_id}", accrual_id, run_no, account_id, now
    )
    if not mark:
        return
    async with ledger.account(account_id, now=now) as acct:
        # A debit takes at most what the account holds: never a debt made by a marketer.
        points = row["points"] if row["points"] > 0 else -min(-row["points"], acct.balance)
        if points:
            await acct.adjust(
                points,
                expires_at=now + timedelta(days=row["valid_days"]),
                actor=row["created_by"],
                reason=row["reason"],
            )
    if points:
        await db.fetch(queries.SET_MOVED, mark[0]["id"], points)
        await platform.enqueue_pass_update(account_id)
        if db.boolean(row["notify_email"]):
            until = now + timedelta(days=row["valid_days"])
            await _email(account_id, points, until, row, run_no)


async def _email(
    account_id: int, points: int, until: datetime, row: dict[str, Any], run_no: int
) -> None:
    """Tell the shopper, if they consented to marketing email; sent after the commit, once
    per account and run (the outbox's key)."""
    member = await members.member_of_account(account_id)
    if not member or not member["email"] or not member["marketing_email"]:
        return
    day = clock.local_date(until, settings_module.get().tz)
    await mail.queue_email(
        to=member["email"],
        template="accrual",
        lang=member["language"],
        context={
            "name": member["name"],
            "points": points,
            "reason": row["reason"],
            "until_iso": day.isoformat(),
            "card_url": f"{settings_module.get().base_url}/card",
        },
        dedupe_key=f"accrual:{row['id']}:{run_no}:{account_id}",
    )


async def run(
    accrual_id: int, run_no: int, *, now: datetime, chunks_at_most: int | None = None
) -> bool:
    """Run ``run_no`` of the accrual (the worker's job); True once it is finished.
    ``chunks_at_most`` stops it early, as a worker dying mid-way would (tests)."""
    async with db.write_transaction():
        rows = await db.fetch(queries.LOCKED, accrual_id)
        if not rows or rows[0]["status"] == "cancelled" or rows[0]["runs"] > run_no:
            return True
        row = rows[0]
        await db.fetch(queries.START, accrual_id)
    try:
        audience = await _audience(row["segment_id"], now=now)
    except NotFound:
        audience = []  # the segment was deleted since: the run reaches nobody
    for number, chunk in enumerate(db.chunks(audience, CHUNK)):
        if chunks_at_most is not None and number >= chunks_at_most:
            return False
        async with db.write_transaction():
            for account_id in chunk:
                await _move(row, run_no, account_id, now)
    async with db.write_transaction():
        rows = await db.fetch(queries.LOCKED, accrual_id)
        if rows[0]["runs"] > run_no:
            return True
        totals = (await db.fetch(queries.RUN_TOTALS, accrual_id, run_no))[0]
        scheduled = db.timestamp(row["next_run_at"]) or now
        if row["repeat"] == "monthly":
            next_at: datetime | None = clock.add_months(clock.to_utc(scheduled), 1)
            await _queue(accrual_id, run_no + 1, next_at)  # type: ignore[arg-type]
        else:
            next_at = None
        await db.fetch(
            queries.FINISH,
            accrual_id,
            "scheduled" if next_at else "done",
            run_no + 1,
            now,
            next_at,
        )
        await platform.audit(
            actor=row["created_by"],
            action="accrual.run",
            subject=f"accrual:{accrual_id}",
            details={
                "run": run_no,
                "accounts": int(totals["accounts"]),
                "points": int(totals["points"]),
            },
        )
    return True
