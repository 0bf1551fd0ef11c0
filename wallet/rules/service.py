"""The program rules: versioned, effective from a timestamp, read on every receipt.

Versions are few and rarely change, so each process keeps them in memory for a few
seconds instead of reading them on every receipt; a new version is usually dated ahead.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import msgspec

from wallet import clock, db, runtime
from wallet.rules.schemas import Rules, RulesIn, Tier
from wallet.rules.tables import ProgramRules

CACHE_SECONDS = 5.0

# What a program starts with when nobody has set rules yet: 1 point per rouble at 5%,
# 7% after 15,000 roubles, points pay up to 99% of a receipt but never alcohol or tobacco,
# and they last 6 months.
DEFAULT_RULES = RulesIn(
    program_name="Программа лояльности",
    earn_rate_bp=500,
    tiers=[
        Tier(name="Базовый", min_spend_kopecks=0, earn_rate_bp=500),
        Tier(name="Золотой", min_spend_kopecks=1_500_000, earn_rate_bp=700),
    ],
    no_earn_categories=["alcohol", "tobacco"],
    no_redeem_categories=["alcohol", "tobacco"],
    max_redeem_share_bp=9_900,
    validity_months=6,
    pending_days=0,
    point_value_kopecks=100,
    tier_basis="lifetime",
    tier_window_months=12,
)


def _from_row(row: dict[str, Any]) -> Rules:
    return Rules(
        id=row["id"],
        effective_from=row["effective_from"],
        program_name=row["program_name"],
        earn_rate_bp=row["earn_rate_bp"],
        tiers=msgspec.convert(db.json_value(row["tiers"]), list[Tier]),
        no_earn_categories=list(db.json_value(row["no_earn_categories"])),
        no_redeem_categories=list(db.json_value(row["no_redeem_categories"])),
        max_redeem_share_bp=row["max_redeem_share_bp"],
        validity_months=row["validity_months"],
        pending_days=row["pending_days"],
        point_value_kopecks=row["point_value_kopecks"],
        tier_basis=row.get("tier_basis") or "lifetime",
        tier_window_months=row.get("tier_window_months") or 12,
    )


async def versions() -> list[Rules]:
    caches = runtime.current().caches
    cached = caches.rules
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    rows = await ProgramRules.select().order_by(ProgramRules.effective_from)
    loaded = [_from_row(row) for row in rows]
    if loaded:  # "no rules yet" is never cached: the first version is about to be made
        caches.rules = (time.monotonic(), loaded)
    return loaded


def forget_cache() -> None:
    runtime.current().caches.rules = None


async def rules_at(moment: datetime) -> Rules:
    """The version in force at ``moment``; the earliest one for a time before all of them."""
    loaded = await versions() or await _first_version()
    chosen = loaded[0]
    for version in loaded:
        if version.effective_from <= moment:
            chosen = version
    return chosen


# Any constant shared by the processes: the advisory lock that orders first-use creation.
_FIRST_VERSION_LOCK = 0x5275_6C65


async def _first_version() -> list[Rules]:
    """A program's first rules (the defaults), made on first use. Fifty tills posting the
    first receipts at once take turns on a lock (PostgreSQL; SQLite has one writer), so one
    inserts and the others find its row once it commits, instead of each inserting its own
    or reading an empty list (an IndexError, a 500 at the till)."""
    async with db.write_transaction():
        if not db.is_sqlite():
            await db.fetch("SELECT pg_advisory_xact_lock($1)", _FIRST_VERSION_LOCK)
        if not await ProgramRules.exists():
            await put_rules(DEFAULT_RULES, actor="system", now=clock.now(), first=True)
        rows = await ProgramRules.select().order_by(ProgramRules.effective_from)
    return [_from_row(row) for row in rows]


async def put_rules(change: RulesIn, *, actor: str, now: datetime, first: bool = False) -> Rules:
    """Store a new version: the current values with ``change`` applied on top."""
    base = DEFAULT_RULES if first else await _current_as_input(now)
    merged = {
        field: getattr(change, field)
        if getattr(change, field) is not None
        else getattr(base, field)
        for field in RulesIn.__struct_fields__
        if field != "effective_from"
    }
    effective_from = clock.to_utc(change.effective_from) if change.effective_from else now
    # The first version reaches back to the beginning so back-dated imports have rules too.
    if first:
        effective_from = datetime(2000, 1, 1, tzinfo=effective_from.tzinfo)
    row = ProgramRules(
        effective_from=effective_from,
        program_name=merged["program_name"],
        earn_rate_bp=merged["earn_rate_bp"],
        tiers=msgspec.to_builtins(merged["tiers"]),
        no_earn_categories=merged["no_earn_categories"],
        no_redeem_categories=merged["no_redeem_categories"],
        max_redeem_share_bp=merged["max_redeem_share_bp"],
        validity_months=merged["validity_months"],
        pending_days=merged["pending_days"],
        point_value_kopecks=merged["point_value_kopecks"],
        tier_basis=merged["tier_basis"],
        tier_window_months=merged["tier_window_months"],
        created_by=actor,
        created_at=now,
    )
    await row.save()
    forget_cache()
    return await _by_id(row.id)


async def _by_id(rules_id: int) -> Rules:
    row = await ProgramRules.select().where(ProgramRules.id == rules_id).first()
    assert row is not None
    return _from_row(row)


async def _current_as_input(now: datetime) -> RulesIn:
    current = await rules_at(now)
    return RulesIn(
        program_name=current.program_name,
        earn_rate_bp=current.earn_rate_bp,
        tiers=current.tiers,
        no_earn_categories=current.no_earn_categories,
        no_redeem_categories=current.no_redeem_categories,
        max_redeem_share_bp=current.max_redeem_share_bp,
        validity_months=current.validity_months,
        pending_days=current.pending_days,
        point_value_kopecks=current.point_value_kopecks,
        tier_basis=current.tier_basis,  # type: ignore[arg-type]
        tier_window_months=current.tier_window_months,
    )
