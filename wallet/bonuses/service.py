"""Event bonuses: welcome, birthday, referral, a complete profile, a marketing consent.

Nothing here is called by the domains below: members publish "joined" and "changed", the
till publishes "receipt posted" and "return posted" (``wallet.wiring`` subscribes these
handlers), and each handler runs in the publisher's transaction. Points go through the
ledger's door as an earn whose lot source names the bonus; inside the till's unit of work
the door hands back the receipt's own book, so the receipt's reply and pass show them.

Paying once: every bonus first inserts its ``bonus_award`` row on a key that says what it
is for (``INSERT ... ON CONFLICT DO NOTHING``); only the insert that lands pays. A retried
request, a second event, or twenty first receipts at once find the row and pay nothing.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from wallet import clock, codes, db, runtime, settings
from wallet.bonuses import queries
from wallet.bonuses.schemas import BonusesIn, BonusesOut
from wallet.bonuses.tables import BonusSettings
from wallet.errors import ReferralRefused
from wallet.ledger import service as ledger
from wallet.members import service as members
from wallet.members.events import MemberChanged, MemberJoined
from wallet.platform import service as platform
from wallet.receipts.events import ReceiptPosted, ReturnPosted
from wallet.rules import service as rules_service

CACHE_SECONDS = 5.0


def forget_cache() -> None:
    runtime.current().caches.bonuses = None


async def current() -> BonusesOut:
    """The bonuses in force (cached a few seconds: every receipt reads them)."""
    caches = runtime.current().caches
    cached = caches.bonuses
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]  # type: ignore[no-any-return]
    row = await BonusSettings.select().order_by(BonusSettings.id, ascending=False).first()
    found = BonusesOut(bonuses=BonusesIn(), updated_by="", updated_at=None)
    if row is not None:
        value = row["settings"]
        found = BonusesOut(
            bonuses=msgspec.convert(
                json.loads(value) if isinstance(value, str) else value, BonusesIn
            ),
            updated_by=row["created_by"],
            updated_at=row["created_at"],
        )
    caches.bonuses = (time.monotonic(), found)
    return found


async def put(data: BonusesIn, *, actor: str, now: datetime) -> BonusesOut:
    await BonusSettings.insert(
        BonusSettings(settings=msgspec.to_builtins(data), created_by=actor, created_at=now)
    )
    await platform.audit(
        actor=actor, action="bonuses.put", subject="bonuses", details=msgspec.to_builtins(data)
    )
    forget_cache()
    return BonusesOut(bonuses=data, updated_by=actor, updated_at=now)


async def _pay(
    account_id: int,
    *,
    kind: str,
    key: str,
    points: int,
    reason: str,
    now: datetime,
    receipt_id: int | None = None,
) -> bool:
    """Pay ``points`` once for ``key``; False when that bonus was paid already."""
    claimed = await db.fetch(
        queries.CLAIM_AWARD,
        key,
        account_id,
        kind,
        points,
        receipt_id,
        reason,
        now,
    )
    if not claimed:
        return False
    rules = await rules_service.rules_at(now)
    async with ledger.account(account_id, now=now) as acct:
        lot_id = await acct.earn(
            points,
            source=f"bonus:{kind}"[:16],
            earned_at=now,
            available_from=now,
            expires_at=clock.add_months(now, rules.validity_months),
            receipt_id=receipt_id,
            reason=reason,
        )
    await db.fetch(queries.SET_AWARD_LOT, lot_id, int(claimed[0]["id"]))
    await platform.enqueue_pass_update(account_id)
    return True


def _person_key(value: str | None) -> str | None:
    return codes.sha256_hex(value.strip().lower()) if value else None


# --- members: joined, changed -------------------------------------------------------------


async def on_joined(event: MemberJoined) -> None:
    config = (await current()).bonuses
    if event.referrer_account_id is not None:
        await _record_referral(event)
    if config.welcome and not config.welcome.after_first_purchase:
        await _pay(
            event.account_id,
            kind="welcome",
            key=f"welcome:{event.account_id}",
            points=config.welcome.points,
            reason="welcome bonus",
            now=event.now,
        )
    await _profile_and_consent(event.account_id, now=event.now)


async def on_changed(event: MemberChanged) -> None:
    await _profile_and_consent(event.account_id, now=event.now)


async def _record_referral(event: MemberJoined) -> None:
    assert event.referrer_account_id is not None
    try:
        # The unique phone, email and account keys: one referral per new person. The
        # refusal rolls the caller's transaction (the enrolment) back.
        await db.fetch(
            queries.INSERT_REFERRAL,
            event.account_id,
            event.referrer_account_id,
            _person_key(event.phone),
            _person_key(event.email),
            event.now,
        )
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise ReferralRefused(
                "this phone or email already joined with a friend's code once",
                {"reason": "already_referred"},
            ) from exc
        raise


async def _profile_and_consent(account_id: int, *, now: datetime) -> None:
    config = (await current()).bonuses
    if config.profile_complete is None and config.marketing_consent is None:
        return
    member = await members.member_of_account(account_id)
    if member is None:
        return
    if config.profile_complete and all(
        member[field] for field in ("name", "email", "phone", "birthday")
    ):
        await _pay(
            account_id,
            kind="profile",
            key=f"profile:{account_id}",
            points=config.profile_complete.points,
            reason="bonus for a complete profile",
            now=now,
        )
    if config.marketing_consent and (member["marketing_email"] or member["marketing_push"]):
        await _pay(
            account_id,
            kind="marketing",
            key=f"marketing:{account_id}",
            points=config.marketing_consent.points,
            reason="bonus for consenting to news and offers",
            now=now,
        )


# --- the till: receipts and returns -------------------------------------------------------


async def on_receipt(event: ReceiptPosted) -> None:
    config = (await current()).bonuses
    if not (config.welcome or config.birthday or config.referral):
        return
    paid, earned = event.paid_kopecks, event.earned_points
    if paid <= 0:
        return
    if config.welcome and config.welcome.after_first_purchase:
        await _pay(
            event.account_id,
            kind="welcome",
            key=f"welcome:{event.account_id}",
            points=config.welcome.points,
            reason="welcome bonus: first purchase",
            now=event.now,
            receipt_id=event.receipt_pk,
        )
    if config.referral:
        await _reward_referral(event, config)
    if config.birthday:
        await _birthday(event, config, earned)


async def _reward_referral(event: ReceiptPosted, config: BonusesIn) -> None:
    assert config.referral is not None
    found = await db.fetch(
        queries.WAITING_REFERRAL,
        event.account_id,
    )
    if not found:
        return
    referral_id, referrer = int(found[0]["id"]), int(found[0]["referrer_account_id"])
    if referrer == event.account_id:
        # The cards met on one account since (a card moved): no new person came.
        await db.fetch(
            queries.REFUSE_SAME_ACCOUNT,
            referral_id,
        )
        return
    reason = f"referral {referral_id}: a friend's first purchase"
    await _pay(
        event.account_id,
        kind="referral",
        key=f"referral:friend:{referral_id}",
        points=config.referral.friend_points,
        reason=reason,
        now=event.now,
        receipt_id=event.receipt_pk,
    )
    await _pay(
        referrer,
        kind="referral",
        key=f"referral:referrer:{referral_id}",
        points=config.referral.referrer_points,
        reason=reason,
        now=event.now,
    )
    await db.fetch(
        queries.REFERRAL_REWARDED,
        event.now,
        referral_id,
    )


def birthday_window(birthday: date, day: date, *, before: int, after: int) -> bool:
    """Is ``day`` within ``before`` days before to ``after`` days after the birthday (of
    that year, the one before or the one after, so 30 December counts for 2 January)? A
    29 February birthday is on 28 February in other years."""
    for year in (day.year - 1, day.year, day.year + 1):
        try:
            this = birthday.replace(year=year)
        except ValueError:
            this = date(year, 2, 28)
        if this - timedelta(days=before) <= day <= this + timedelta(days=after):
            return True
    return False


async def _birthday(event: ReceiptPosted, config: BonusesIn, earned: int) -> None:
    rule = config.birthday
    assert rule is not None
    member = await members.member_of_account(event.account_id)
    if member is None or member["birthday"] is None:
        return
    birthday = member["birthday"]
    if isinstance(birthday, str):
        birthday = date.fromisoformat(birthday)
    day = clock.local_date(event.occurred_at, settings.get().tz)
    if not birthday_window(birthday, day, before=rule.days_before, after=rule.days_after):
        return
    if rule.mode == "fixed" and rule.points:
        await _pay(
            event.account_id,
            kind="birthday",
            key=f"birthday:{event.account_id}:{day.year}",
            points=rule.points,
            reason="birthday bonus",
            now=event.now,
            receipt_id=event.receipt_pk,
        )
    elif rule.mode == "multiplier" and earned > 0:
        await _pay(
            event.account_id,
            kind="birthday",
            key=f"birthday:receipt:{event.receipt_pk}",
            points=earned * (rule.multiplier - 1),
            reason=f"birthday ×{rule.multiplier}",
            now=event.now,
            receipt_id=event.receipt_pk,
        )


async def on_return(event: ReturnPosted) -> None:
    """Take back the birthday ×N of a receipt in proportion to the base points the returns
    took back so far (the receipt's lines already say how many)."""
    awards = await db.fetch(
        queries.BIRTHDAY_AWARD_OF_RECEIPT,
        event.receipt_pk,
        f"birthday:receipt:{event.receipt_pk}",
    )
    if not awards:
        return
    award = awards[0]
    totals = await db.fetch(
        queries.RECEIPT_RETURNED_EARNED,
        event.receipt_pk,
    )
    earned, returned = int(totals[0]["earned_points"]), int(totals[0]["returned"])
    due = int(award["points"]) * returned // earned if earned else int(award["points"])
    more = due - int(award["taken_back"])
    if more <= 0:
        return
    async with ledger.account(event.account_id, now=event.now) as acct:
        await acct.take_back(
            more,
            from_lot=award["lot_id"],
            receipt_id=event.receipt_pk,
            reason="birthday bonus of returned goods",
        )
    await db.fetch(
        queries.AWARD_TAKEN_BACK,
        more,
        int(award["id"]),
    )


# --- the shopper ---------------------------------------------------------------------------


async def add_referral(account_id: int, code: str, *, now: datetime) -> Any:
    """A shopper who joined without a code enters a friend's, before their first paid
    receipt; refused with the reason otherwise."""
    member = await members.member_of_account(account_id)
    assert member is not None
    referrer = await members.check_referral(
        code, account_id=account_id, email=member["email"], phone=member["phone"]
    )
    if await db.fetch(queries.HAS_PAID_RECEIPT, account_id):
        raise ReferralRefused(
            "a friend's code counts only before the first purchase",
            {"reason": "already_purchased", "code": code},
        )
    await _record_referral(
        MemberJoined(
            member_id=member["id"],
            account_id=account_id,
            referrer_account_id=referrer,
            email=member["email"],
            phone=member["phone"],
            now=now,
        )
    )
    return referrer
