"""What a pass shows: the program (name, stores), each account's view (balance, pending,
tier, next expiry, goal, burn reminder), a card's state, and its fingerprint (what
changed means).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from passes.card import (
    AppleSettings,
    BurnNotice,
    CardState,
    GoalProgress,
    Program,
    StoreLocation,
)
from passes.google import GoogleSettings
from wallet import codes, runtime, settings
from wallet.errors import AccountNotFound
from wallet.ledger import service as ledger
from wallet.members import service as members
from wallet.members.service import CardInfo
from wallet.rules import service as rules_service
from wallet.stores import service as stores

PASSKIT_PREFIX = "/passkit"


def apple_settings() -> AppleSettings:
    cfg = settings.get()
    return AppleSettings(
        pass_type_id=cfg.pass_type_id,
        team_id=cfg.team_id,
        web_service_url=cfg.base_url + PASSKIT_PREFIX,
    )


def google_settings() -> GoogleSettings:
    cfg = settings.get()
    return GoogleSettings(
        issuer_id=cfg.google_issuer_id, class_suffix="loyalty", origins=[cfg.base_url]
    )


async def program(now: datetime) -> Program:
    """The program as passes show it; one object per distinct content (passes/ caches by
    identity)."""
    rules = await rules_service.rules_at(now)
    shops = [s for s in await stores.list_stores() if s.latitude is not None]
    key = (
        rules.program_name,
        tuple((s.name, s.latitude, s.longitude) for s in shops[:10]),
    )
    programs = runtime.current().caches.programs
    found = programs.get(key)
    if found is None:
        found = Program(
            program_name=rules.program_name,
            organization_name=rules.program_name,
            issuer_name=rules.program_name,
            homepage_url=settings.get().base_url,
            locations=[
                StoreLocation(latitude=lat, longitude=lon, name=name)
                for name, lat, lon in key[1]
                if lat is not None and lon is not None
            ],
        )
        if len(programs) > 32:
            programs.clear()
        programs[key] = found
    return found  # type: ignore[no-any-return]


# What the domains above pass sync add to a pass, for many accounts at once: offers
# provide this month's goal and the reminded burn (``wallet.wiring`` puts the readers in the
# runtime as it builds it; pass sync sits below offers and cannot import them). None:
# nothing to show.
FactsReader = Callable[..., Awaitable[dict[int, Any]]]


async def _facts(read: FactsReader | None, account_ids: list[int], now: datetime) -> Any:
    return {} if read is None else await read(account_ids, now=now)


class AccountView(msgspec.Struct, frozen=True):
    balance: int
    pending: int
    tier_name: str
    next_expiry_points: int
    next_expiry_at: datetime | None
    goal: GoalProgress | None
    burn_notice: BurnNotice | None = None
    language: str = "ru"
    tier_progress: str | None = None


async def account_view(account_id: int, now: datetime) -> AccountView:
    found = await account_views([account_id], now)
    if account_id not in found:
        raise AccountNotFound(f"no account {account_id}", {"account_id": account_id})
    return found[account_id]


async def account_views(account_ids: list[int], now: datetime) -> dict[int, AccountView]:
    """What the passes of these accounts show, read for all of them at once (a few IN
    queries, not a few queries per account: pass refreshes and campaigns run in batches)."""
    summaries = await ledger.summaries(account_ids, now=now)
    running = runtime.current()
    goals: dict[int, GoalProgress] = await _facts(running.goals_reader, list(summaries), now)
    notices: dict[int, BurnNotice] = await _facts(running.burns_reader, list(summaries), now)
    # The reminder is the one text the pass composes in the shopper's own language.
    rules = await rules_service.rules_at(now)
    standings = {
        account_id: await ledger.tier_standing(
            account_id, now=now, lifetime_spend_kopecks=summary.lifetime_spend_kopecks, rules=rules
        )
        for account_id, summary in summaries.items()
    }
    progress_shown = [a for a, s in standings.items() if s.next_tier is not None]
    languages = (
        await members.languages_of_accounts(sorted(set(notices) | set(progress_shown)))
        if notices or progress_shown
        else {}
    )
    return {
        account_id: AccountView(
            balance=summary.balance,
            pending=summary.pending,
            tier_name=standings[account_id].tier.name,
            tier_progress=standings[account_id].progress_text(languages.get(account_id, "ru")),
            next_expiry_points=summary.next_expiry.points if summary.next_expiry else 0,
            next_expiry_at=summary.next_expiry.expires_at if summary.next_expiry else None,
            goal=goals.get(account_id),
            burn_notice=notices.get(account_id),
            language=languages.get(account_id, "ru"),
        )
        for account_id, summary in summaries.items()
    }


def _message(row: dict[str, Any] | None) -> str | None:
    if not row or not row["message_text"]:
        return None
    header = row["message_header"]
    return f"{header}. {row['message_text']}" if header else row["message_text"]


def card_state(
    card: CardInfo, view: AccountView, row: dict[str, Any] | None, modified_at: datetime
) -> CardState:
    return CardState(
        serial_number=card.pass_serial,
        card_number=card.number,
        holder_name=card.holder_name,
        balance=view.balance,
        pending=view.pending,
        tier_name=view.tier_name,
        next_expiry_points=view.next_expiry_points,
        next_expiry_at=view.next_expiry_at,
        goal=view.goal,
        status=card.status,  # type: ignore[arg-type]
        message=_message(row),
        updated_at=modified_at,
        burn_notice=view.burn_notice,
        tier_progress=view.tier_progress,
        language=view.language,
    )


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def fingerprint(state: CardState) -> str:
    """What the pass shows, without its own timestamp."""
    return codes.sha256_hex(msgspec.json.encode(msgspec.structs.replace(state, updated_at=_EPOCH)))
