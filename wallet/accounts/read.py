"""An account's figures, for one account or a batch (pass refreshes and campaigns work on
hundreds at once: every read here is an IN query a 500 accounts, never one per account)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from wallet import settings
from wallet.errors import AccountNotFound
from wallet.ledger import reads as ledger_reads
from wallet.ledger.schemas import Expiry
from wallet.members import service as members
from wallet.members.schemas import ReferralOut, TierOut
from wallet.rules import service as rules_service
from wallet.rules.schemas import TierStanding

# What an account without a shopper (an anonymous plastic card's) is shown in.
DEFAULT_LANGUAGE = "ru"


class AccountFigures(msgspec.Struct, frozen=True):
    account_id: int
    balance: int
    pending: int
    debt: int
    lifetime_spend_kopecks: int
    next_expiry: Expiry | None
    # Points not yet available, each with the moment it becomes available.
    pending_lots: list[Expiry]
    standing: TierStanding
    # The shopper's own language (their emails, their passes); not a page's language.
    language: str

    @property
    def tier(self) -> str:
        return self.standing.tier.name

    def progress(self, language: str | None = None) -> str | None:
        """The line about the next tier, in ``language`` (the shopper's by default)."""
        return self.standing.progress_text(language or self.language)

    def tier_out(self, language: str | None = None) -> TierOut:
        standing = self.standing
        return TierOut(
            name=standing.tier.name,
            earn_rate_bp=standing.tier.earn_rate_bp,
            next_tier=standing.next_tier.name if standing.next_tier else None,
            next_earn_rate_bp=standing.next_tier.earn_rate_bp if standing.next_tier else None,
            missing_kopecks=standing.missing_kopecks,
            progress=self.progress(language),
            discount_bp=standing.tier.discount_bp,
            redeem_share_bp=standing.tier.redeem_share_bp,
        )

    def referral(self) -> ReferralOut:
        return referral(self.account_id)


def referral(account_id: int) -> ReferralOut:
    code = members.referral_code(account_id)
    return ReferralOut(code=code, link=f"{settings.get().base_url}/join?ref={code}")


async def read_many(
    account_ids: list[int], *, now: datetime, languages: bool = True
) -> dict[int, AccountFigures]:
    """The figures of these accounts at ``now``; accounts that do not exist are left out.
    ``languages=False`` skips reading the shoppers' languages (the till shows none)."""
    summaries = await ledger_reads.summaries(account_ids, now=now)
    if not summaries:
        return {}
    rules = await rules_service.rules_at(now)
    standings = await ledger_reads.tier_standings(
        {a: s.lifetime_spend_kopecks for a, s in summaries.items()}, now=now, rules=rules
    )
    spoken = await members.languages_of_accounts(list(summaries)) if languages else {}
    return {
        account_id: AccountFigures(
            account_id=account_id,
            balance=summary.balance,
            pending=summary.pending,
            debt=summary.debt,
            lifetime_spend_kopecks=summary.lifetime_spend_kopecks,
            next_expiry=summary.next_expiry,
            pending_lots=summary.pending_lots,
            standing=standings[account_id],
            language=spoken.get(account_id, DEFAULT_LANGUAGE),
        )
        for account_id, summary in summaries.items()
    }


async def read_one(account_id: int, *, now: datetime, languages: bool = True) -> AccountFigures:
    found = await read_many([account_id], now=now, languages=languages)
    if account_id not in found:
        raise AccountNotFound(f"no account {account_id}", {"account_id": account_id})
    return found[account_id]
