"""A till, a support desk and shoppers, through the public HTTP API, for tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from wallet import clock, db
from wallet.auth import service as auth
from wallet.stores import service as stores
from wallet.stores.schemas import StoreIn


async def make_key(role: str, store_code: str | None = None) -> str:
    async with db.write_transaction():
        secret, _ = await auth.create_key(
            role=role, store_code=store_code, name=f"test {role}", now=clock.now()
        )
    return secret


async def make_store(code: str = "MSK-001", name: str = "Тверская, 12") -> None:
    async with db.write_transaction():
        await stores.create_store(StoreIn(code=code, name=name, latitude=55.76, longitude=37.6))


_enrolments = itertools.count(1)
"""Numbers each test shopper's made-up email; id() of a dict is reused once it is freed."""


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def line(
    amount: int, category: str = "grocery", sku: str = "SKU-1", quantity: float = 1
) -> dict[str, Any]:
    return {"sku": sku, "category": category, "quantity": quantity, "amount": amount}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass
class Shopper:
    card: str
    account_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Shop:
    """One store with a till key, plus admin and support keys."""

    client: httpx.AsyncClient
    pos_key: str
    admin_key: str
    support_key: str

    @classmethod
    async def open(cls, client: httpx.AsyncClient, code: str = "MSK-001") -> Shop:
        await make_store(code)
        return cls(
            client=client,
            pos_key=await make_key("pos", code),
            admin_key=await make_key("admin"),
            support_key=await make_key("support"),
        )

    async def enrol(
        self, name: str = "Анна Смирнова", email: str | None = None, **extra: Any
    ) -> Shopper:
        body = {
            "name": name,
            "email": email or f"{name.split()[0].lower()}.{next(_enrolments)}@example.ru",
            "consents": {"program": True, "personal_data": True, "terms_version": "2026-01"},
            **extra,
        }
        reply = await self.client.post("/api/v1/cards", json=body)
        assert reply.status_code == 201, reply.text
        data = reply.json()
        return Shopper(
            card=data["card_number"], account_id=data["account_id"], token=data["shopper_token"]
        )

    async def receipt(
        self,
        card: str,
        receipt_id: str,
        lines: list[dict[str, Any]],
        *,
        redeem: int = 0,
        at: datetime | None = None,
        expect: int = 201,
        key: str | None = None,
    ) -> dict[str, Any]:
        reply = await self.client.post(
            "/api/v1/pos/receipts",
            json={
                "receipt_id": receipt_id,
                "card_number": card,
                "occurred_at": iso(at or clock.now() - timedelta(seconds=1)),
                "lines": lines,
                "redeem_points": redeem,
            },
            headers=bearer(key or self.pos_key),
        )
        assert reply.status_code == expect, reply.text
        return reply.json()  # type: ignore[no-any-return]

    async def give_points(self, account_id: int, points: int) -> None:
        reply = await self.client.post(
            f"/api/v1/admin/accounts/{account_id}/adjustments",
            json={"points": points, "reason": "test credit"},
            headers=bearer(self.support_key),
        )
        assert reply.status_code == 201, reply.text

    async def me(self, shopper: Shopper) -> dict[str, Any]:
        reply = await self.client.get("/api/v1/me", headers=shopper.headers)
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]
