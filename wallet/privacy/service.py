"""Shopper data rights (152-FZ): export everything we hold about a person, erase them, the
retention rule, and support's search with an access trail.

Above the domains it reads and changes, below the pages: every other domain is reached
through its service functions (``members.privacy``, ``ledger.privacy`` ...).

- **Export** gathers profile, consent trail, cards, movements, receipts with lines, offers
  and goals, messages sent and pass devices. A support export names a reason and is audited.
- **Erase** removes the person and keeps the ledger: the account turns anonymous (its
  totals, journal and receipts stay and still reconcile), marketing stops on every channel
  (consents withdrawn, queued deliveries skipped), the cards are blocked so the pass update
  voids the Apple passes and sets the Google objects INACTIVE, the pass registrations are
  dropped once the void was pushed (job ``privacy.drop_registrations``), tokens and page
  sessions are revoked, and the webhook deliveries about the person lose their bodies (ids,
  card numbers), those not yet sent for good; then ``MemberErased`` (webhook
  ``member.erased``) tells the CRM to delete its copy. A second erase answers the same and
  changes nothing.
- **Retention** erases members with no activity for ``WALLET_RETENTION_YEARS`` years.
- Every support view of personal data is an audit event ``support.*`` (who, whose, when,
  why), listable through ``access_log``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from wallet import db
from wallet import settings as settings_module
from wallet.auth import service as auth
from wallet.campaigns import privacy as campaign_privacy
from wallet.errors import Conflict
from wallet.koshelek import service as koshelek
from wallet.ledger import privacy as ledger_privacy
from wallet.ledger import reads as ledger_reads
from wallet.mail import service as mail
from wallet.members import privacy as members
from wallet.members import service as member_service
from wallet.offers import privacy as offer_privacy
from wallet.passsync import privacy as pass_privacy
from wallet.platform import events
from wallet.platform import service as platform
from wallet.privacy import timeline
from wallet.privacy.events import ErasedCard, MemberErased
from wallet.privacy.schemas import (
    AccessEvent,
    CardOut,
    Erased,
    Export,
    RetentionReport,
    Timeline,
)
from wallet.receipts import privacy as receipt_privacy
from wallet.signin import limits
from wallet.signin import service as signin
from wallet.webhooks import service as webhooks

log = logging.getLogger("wallet.privacy")

DROP_REGISTRATIONS = "privacy.drop_registrations"
# How long an erased shopper's devices stay registered after the erase: time for the pushed
# devices to fetch the voided pass (they do within seconds of a push when online).
REGISTRATIONS_KEPT = timedelta(hours=1)
# The audit actions that are a support person looking at someone's personal data.
SUPPORT_VIEWS = ["support.export", "support.search", "support.erase", "support.timeline"]


async def export(member_id: int, *, now: datetime) -> Export:
    found = await members.profile(member_id)
    account_id = found.account_id
    cards = await member_service.cards_of_account(account_id)
    summary = await ledger_reads.summary(account_id, now=now)
    return Export(
        exported_at=now,
        profile=found,
        consents=await members.consents_of(member_id),
        cards=[
            CardOut(
                number=c.number,
                kind=c.kind,
                role=c.role,
                status=c.status,
                holder_name=c.holder_name,
            )
            for c in cards
        ],
        balance=summary.balance,
        movements=await ledger_privacy.movements(account_id),
        receipts=await receipt_privacy.receipts_of_account(account_id),
        imported_receipts=await receipt_privacy.imported_of_account(account_id),
        offers=await offer_privacy.offers_of_account(account_id),
        messages=await campaign_privacy.deliveries_of_account(account_id)
        + await _service_sms(found.phone),
        devices=await pass_privacy.devices_of_account(account_id),
    )


async def _service_sms(phone: str | None) -> list[dict[str, object]]:
    from wallet.sms import service as sms

    return await sms.messages_to(phone)


async def support_export(member_id: int, *, actor: str, reason: str, now: datetime) -> Export:
    """The same export for a request received by post; recorded before it is shown."""
    data = await export(member_id, now=now)
    async with db.write_transaction():
        await platform.audit(
            actor=actor,
            action="support.export",
            subject=f"member:{member_id}",
            details={"reason": reason},
        )
    return data


async def request_erase_code(member_id: int, *, now: datetime) -> tuple[str, str]:
    """A confirmation code for the shopper's own erasure: (email, code), to be mailed after
    commit. The code is a sign-in code (``wallet.signin``): proof that the caller reads the
    member's mailbox as well as holds their token."""
    found = await members.profile(member_id)
    if found.erased_at is not None or not found.email:
        raise Conflict(
            "this account has no email to confirm the erasure with: ask support, who erase "
            "on a written request",
            {"member_id": member_id},
        )
    await limits.take(
        [
            limits.Limit(
                f"email:{found.email}",
                signin.SENDS_PER_ADDRESS,
                signin.ADDRESS_WINDOW,
                "too many codes asked for this address",
            )
        ],
        now=now,
    )
    code = await signin.new_code(email=found.email, member_id=member_id, now=now)
    return found.email, code


async def confirm_and_erase(member_id: int, *, code: str, now: datetime) -> Erased:
    """Check the emailed code (a wrong try is counted and committed) and erase."""
    found = await members.profile(member_id)
    if found.erased_at is not None:
        return Erased(member_id=member_id, account_id=found.account_id, erased_at=found.erased_at)
    refused: signin.CodeRefused | None = None
    async with db.write_transaction():
        try:
            owner = await signin.check_code(email=found.email or "", code=code, now=now)
        except signin.CodeRefused as exc:
            refused = exc
        else:
            if owner != member_id:
                raise signin.CodeRefused(0)
            return await erase_in_transaction(
                member_id, actor=f"shopper:{member_id}", source="shopper", reason="", now=now
            )
    raise refused


async def erase(member_id: int, *, actor: str, source: str, reason: str, now: datetime) -> Erased:
    async with db.write_transaction():
        return await erase_in_transaction(
            member_id, actor=actor, source=source, reason=reason, now=now
        )


async def erase_in_transaction(
    member_id: int, *, actor: str, source: str, reason: str, now: datetime
) -> Erased:
    before = await members.profile(member_id)
    changed = await members.erase(member_id, actor=actor, source=source, now=now)
    if changed:
        await auth.revoke_member_tokens(member_id, now=now)
        await signin.forget_member(member_id, email=before.email, now=now)
        await mail.forget_address(before.email)
        from wallet.sms import service as sms

        await sms.forget_phone(before.phone)
        await campaign_privacy.cancel_queued(before.account_id)
        await koshelek.forget_account(before.account_id)
        # Later, not now: a device is told by a push and then asks which of its passes
        # changed; dropped before it asks, it would never fetch the voided pass and would
        # keep showing a live card.
        await platform.enqueue(
            kind=DROP_REGISTRATIONS,
            payload={"account_id": before.account_id},
            dedupe_key=f"privacy:drop:{before.account_id}",
            due_at=now + REGISTRATIONS_KEPT,
        )
        # Last, so whatever the erase itself told the webhooks goes too: the deliveries
        # about this person lose their bodies, and those not sent yet never go.
        await webhooks.forget_account(before.account_id)
        # After it, so this one goes out: a CRM hears that the person was erased and
        # deletes its own copy (a crash after the commit loses nothing: the outbox).
        cards = await member_service.cards_of_account(before.account_id)
        await events.publish(
            MemberErased(
                member_id=member_id,
                account_id=before.account_id,
                cards=tuple(ErasedCard(card_id=c.id, card_number=c.number) for c in cards),
                source=source,
                now=now,
            )
        )
        if source == "support":
            await platform.audit(
                actor=actor,
                action="support.erase",
                subject=f"member:{member_id}",
                details={"reason": reason},
            )
    after = await members.profile(member_id)
    assert after.erased_at is not None
    return Erased(member_id=member_id, account_id=after.account_id, erased_at=after.erased_at)


# ---- retention ----------------------------------------------------------------------------

RETENTION_BATCH = 500


def retention_cutoff(now: datetime, years: int) -> datetime:
    # 365.25 days a year: a leap day never keeps or drops someone a day early.
    return now - timedelta(days=round(365.25 * years))


async def retention(*, now: datetime, dry_run: bool) -> RetentionReport:
    """Erase (or, dry, list) members with no activity since the cutoff: no point movement
    (expiry aside), no page sign-in, and joined before it."""
    years = settings_module.get().retention_years
    if years <= 0:
        return RetentionReport(years=0, cutoff=None, dry_run=dry_run, member_ids=[])
    cutoff = retention_cutoff(now, years)
    due: list[int] = []
    after_id = 0
    while True:
        batch = await members.inactive_members(
            joined_before=cutoff, after_id=after_id, limit=RETENTION_BATCH
        )
        if not batch:
            break
        after_id = int(batch[-1]["id"])
        moved = await ledger_privacy.accounts_moved_since(
            [int(row["account_id"]) for row in batch], cutoff
        )
        seen = await signin.last_seen([int(row["id"]) for row in batch])
        for row in batch:
            if int(row["account_id"]) in moved:
                continue
            if (at := seen.get(int(row["id"]))) is not None and at >= cutoff:
                continue
            due.append(int(row["id"]))
    if not dry_run:
        for member_id in due:
            await erase(
                member_id,
                actor="system:retention",
                source="retention",
                reason=f"no activity for {years} years",
                now=now,
            )
        log.info("retention erased %d members inactive since %s", len(due), cutoff.date())
    return RetentionReport(years=years, cutoff=cutoff, dry_run=dry_run, member_ids=due)


# ---- support ------------------------------------------------------------------------------


async def support_timeline(
    member_id: int, *, actor: str, reason: str, limit: int, before: datetime | None, now: datetime
) -> Timeline:
    """The shopper's timeline for support (``privacy.timeline``), recorded in the trail."""
    data = await export(member_id, now=now)
    return await timeline.support_timeline(
        data, actor=actor, reason=reason, limit=limit, before=before
    )


async def search(q: str, *, actor: str, reason: str) -> list[members.Found]:
    found = await members.search(q)
    async with db.write_transaction():
        # The query itself is personal data: the trail keeps who was shown, not what was
        # typed. One row per member shown, under that member, so one person's trail is an
        # index seek however long the audit log grows; a search that shows nobody is still
        # recorded, under "members".
        await platform.audit_many(
            actor=actor,
            action="support.search",
            entries=[
                (f"member:{row.member_id}", {"reason": reason, "shown": [row.member_id]})
                for row in found
            ]
            or [("members", {"reason": reason, "shown": []})],
        )
    return found


async def access_log(
    *, member_id: int | None, limit: int, before_id: int | None
) -> list[AccessEvent]:
    """Support's looks at personal data, newest first; with ``member_id``, at that person's
    (every look is recorded under the member it showed)."""
    rows = await platform.audit_events(
        actions=SUPPORT_VIEWS,
        subject=None if member_id is None else f"member:{member_id}",
        limit=limit,
        before_id=before_id,
    )
    return [AccessEvent(**row) for row in rows]
