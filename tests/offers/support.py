"""Helpers for cashback tests: months in the program's zone and an offer made over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.support.shop import Shop, Shopper, bearer, make_key
from wallet import clock, settings
from wallet.offers import service


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return clock.to_utc(datetime(year, month, day, hour, minute, tzinfo=settings.get().tz))


def month_parts(key: str) -> tuple[int, int]:
    year, month = key.split("-")
    return int(year), int(month)


def mid_month(key: str, day: int = 15) -> datetime:
    return local(*month_parts(key), day)


def last_day(key: str) -> int:
    _start, end = service.month_bounds(key)
    return (end.astimezone(settings.get().tz) - timedelta(days=1)).day


def this_month() -> str:
    return service.month_key(clock.now())


def in_this_month() -> datetime:
    """A moment of the current month that a till may still post (not in the future)."""
    start, _end = service.month_bounds(this_month())
    return max(clock.now() - timedelta(minutes=2), start + timedelta(seconds=1))


OFFER = {
    "name": "Кешбэк 2% за цель месяца",
    "rate_bp": 200,
    "cap_points": 1000,
    "validity_months": 6,
    "categories": ["grocery", "household"],
    "goal": {
        "lookback_months": 3,
        "uplift_percent": 10,
        "rounding_step_kopecks": 10_000,
        "min_goal_kopecks": 100_000,
        "no_history_goal_kopecks": 500_000,
    },
    "renews_monthly": True,
}


async def make_offer(shop: Shop, **changes: Any) -> dict[str, Any]:
    marketer = await make_key("marketer")
    body = {**OFFER, "starts_at": local(2000, 1, 1).isoformat(), **changes}
    reply = await shop.client.post("/api/v1/admin/offers", json=body, headers=bearer(marketer))
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def opt_in(shop: Shop, shopper: Shopper, offer_id: int, expect: int = 200) -> Any:
    reply = await shop.client.post(f"/api/v1/me/offers/{offer_id}/opt-in", headers=shopper.headers)
    assert reply.status_code == expect, reply.text
    return reply.json()


async def progress(shop: Shop, shopper: Shopper, offer_id: int) -> dict[str, Any]:
    reply = await shop.client.get(f"/api/v1/me/offers/{offer_id}/progress", headers=shopper.headers)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def add_family_card(shop: Shop, shopper: Shopper) -> str:
    reply = await shop.client.post(
        f"/api/v1/admin/accounts/{shopper.account_id}/cards",
        json={"kind": "virtual", "role": "family", "holder_name": "Пётр"},
        headers=bearer(shop.support_key),
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["number"]  # type: ignore[no-any-return]


def consenting(email: str) -> dict[str, Any]:
    return {
        "email": email,
        "consents": {
            "program": True,
            "personal_data": True,
            "terms_version": "2026-01",
            "marketing_email": True,
        },
    }
