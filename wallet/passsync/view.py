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
from wallet.accounts import read as accounts
from wallet.errors import AccountNotFound
from wallet.members.service import CardInfo
from wallet.promotions import service as promotions
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
        settings.get().card_barcode,
    )
    programs = runtime.current().caches.programs
    found = programs.get(key)
    if found is None:
        found = Program(
            program_name=rules.program_name,
            organization_name=rules.program_name,
            issuer_name=rules.program_name,
            homepage_url=settings.get().base_url,
            barcode=key[2],
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
    personal_offers: list[str] = []


async def _personal_offers(account_id: int, tier: str, now: datetime) -> list[str]:
    """The shopper's own promotions (segment-targeted, or by a personal coupon)."""
    found = await promotions.for_shopper(account_id, tier=tier, now=now)
    return [
        f"{p.name}: {p.gives}" + (f". Промокод {p.code}" if p.code else "")
        for p in found
        if p.personal
    ][:5]


async def account_view(account_id: int, now: datetime) -> AccountView:
    found = await account_views([account_id], now)
    if account_id not in found:
        raise AccountNotFound(f"no account {account_id}", {"account_id": account_id})
    return found[account_id]


async def account_views(account_ids: list[int], now: datetime) -> dict[int, AccountView]:
    """What the passes of these accounts show, read for all of them at once (a few IN
    queries, not a few queries per account: pass refreshes and campaigns run in batches)."""
    figures = await accounts.read_many(account_ids, now=now)
    personal = await promotions.has_personal()
    running = runtime.current()
    goals: dict[int, GoalProgress] = await _facts(running.goals_reader, list(figures), now)
    notices: dict[int, BurnNotice] = await _facts(running.burns_reader, list(figures), now)
    return {
        account_id: AccountView(
            balance=shown.balance,
            pending=shown.pending,
            tier_name=shown.tier,
            # The reminder and the progress are the texts a pass composes in the
            # shopper's own language.
            tier_progress=shown.progress(),
            next_expiry_points=shown.next_expiry.points if shown.next_expiry else 0,
            next_expiry_at=shown.next_expiry.expires_at if shown.next_expiry else None,
            goal=goals.get(account_id),
            burn_notice=notices.get(account_id),
            # Only a pass with a text to compose carries the shopper's language; the rest
            # keep the default, so a language they do not show never changes their
            # fingerprint (and never pushes an update).
            language=(
                shown.language
                if account_id in notices or shown.standing.next_tier is not None
                else accounts.DEFAULT_LANGUAGE
            ),
            # Asked once for the batch: most programs have no personal promotion, and then
            # a pass refresh reads nothing more per account.
            personal_offers=(
                await _personal_offers(account_id, shown.tier, now) if personal else []
            ),
        )
        for account_id, shown in figures.items()
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
        personal_offers=view.personal_offers,
    )


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def fingerprint(state: CardState) -> str:
    """What the pass shows, without its own timestamp."""
    return codes.sha256_hex(msgspec.json.encode(msgspec.structs.replace(state, updated_at=_EPOCH)))
