"""Demo data for the embedded default: a program, stores, a few shoppers with history."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from wallet import clock, db
from wallet import settings as settings_module
from wallet.auth import service as auth
from wallet.errors import Conflict, Unauthorized
from wallet.members import service as members
from wallet.members.schemas import Consents, EnrolIn
from wallet.offers import service as offers
from wallet.offers.schemas import OfferIn
from wallet.receipts import service as receipts
from wallet.receipts.schemas import LineIn, ReceiptIn
from wallet.rules import service as rules_service
from wallet.stores import service as stores
from wallet.stores.schemas import StoreIn

STORES = [
    StoreIn(
        code="MSK-001",
        name="Тверская, 12",
        address="Москва, ул. Тверская, 12",
        latitude=55.7634,
        longitude=37.6066,
        time_zone="Europe/Moscow",
    ),
    StoreIn(
        code="SPB-001",
        name="Невский, 28",
        address="Санкт-Петербург, Невский пр., 28",
        latitude=59.9357,
        longitude=30.3260,
        time_zone="Europe/Moscow",
    ),
]
SHOPPERS = [
    ("Анна Смирнова", "anna@example.ru"),
    ("Иван Петров", "ivan@example.ru"),
    ("Olga Kuznetsova", "olga@example.ru"),
]


async def seed() -> None:
    now = clock.now()
    await rules_service.rules_at(now)
    for store_in in STORES:
        try:
            async with db.write_transaction():
                await stores.create_store(store_in)
        except Conflict:
            pass
    store = await stores.get_store("MSK-001")
    cards = []
    for index, (name, email) in enumerate(SHOPPERS):
        try:
            async with db.write_transaction():
                enrolled = await members.enrol(
                    EnrolIn(
                        name=name,
                        email=email,
                        consents=Consents(
                            program=True,
                            personal_data=True,
                            terms_version="2026-01",
                            marketing_email=True,
                        ),
                        join_store=store.code,
                    ),
                    now=now,
                )
        except Conflict:
            continue
        cards.append(enrolled.card.number)
        for week in range(3):
            await receipts.post_receipt(
                ReceiptIn(
                    receipt_id=f"DEMO-{index}-{week}",
                    card_number=enrolled.card.number,
                    occurred_at=now - timedelta(days=7 * (3 - week)),
                    lines=[
                        LineIn(sku="MILK-1L", category="dairy", quantity=2, amount=17_980),
                        LineIn(sku="BREAD", category="bakery", quantity=1, amount=6_490),
                        LineIn(sku="WINE-RED", category="alcohol", quantity=1, amount=89_900),
                    ],
                ),
                store_id=store.id,
                actor="demo",
                now=now,
            )
    if not await offers.list_offers():
        async with db.write_transaction():
            await offers.create_offer(
                OfferIn(
                    name="Кешбэк 2% за цель месяца",
                    description="Достигните личной цели по покупкам за месяц и получите 2% "
                    "баллами (до 1 000 баллов в месяц, действуют 6 месяцев).",
                    starts_at=now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
                ),
                actor="demo",
                now=now,
            )
    if not cards:  # a rerun: the shoppers exist, show their cards all the same
        cards = await _demo_cards()
    keys = await _demo_keys(store.code, now=now)
    pos_key, admin_key = keys["pos"], keys["admin"]
    support_key, marketer_key = keys["support"], keys["marketer"]
    base = settings_module.get().base_url
    print("Demo program ready.")
    if cards:
        print("Demo cards:", ", ".join(cards))
    print(f"POS key (store {store.code}): {pos_key}")
    print(f"Admin key:   {admin_key}")
    print(f"Support key: {support_key}")
    print(f"Marketer key (console at {base}/console): {marketer_key}")
    print(f"(keys kept in {_keys_file()}, readable by you only; the database has only hashes)")
    print(f"API manual: {base}/schema")
    print(
        f"Shopper pages: {base}/join, {base}/card, {base}/cashback; sign in at "
        f"{base}/signin as {SHOPPERS[0][1]} (with no WALLET_SMTP_HOST the code is logged)"
    )
    print(
        "Try: curl -H 'Authorization: Bearer <POS key>' "
        f"{base}/api/v1/pos/cards/{cards[0] if cards else '<card>'}"
    )


ROLES = ("pos", "admin", "support", "marketer")


def _keys_file() -> Path:
    return settings_module.get().certs_dir.parent / "demo-keys.txt"


async def _demo_cards() -> list[str]:
    cards: list[str] = []
    for _name, email in SHOPPERS:
        rows = await db.fetch(
            "SELECT c.number FROM card c JOIN member m ON m.account = c.account "
            "WHERE m.email = $1 AND c.status = 'active' ORDER BY c.id LIMIT 1",
            email,
        )
        cards.extend(row["number"] for row in rows)
    return cards


async def _demo_keys(store_code: str, *, now: datetime) -> dict[str, str]:
    """The demo's four keys: those of an earlier run while they still work, new ones
    otherwise. Keys are stored hashed, so the file is the only place they can be read
    again; it is made readable by its owner only."""
    path = _keys_file()
    kept: dict[str, str] = {}
    if path.exists():
        for text in path.read_text().splitlines():
            role, _, secret = text.partition("=")
            if role in ROLES and secret:
                kept[role] = secret.strip()
    try:
        if set(kept) == set(ROLES):
            for secret in kept.values():
                await auth.authenticate(secret)
            return kept
    except Unauthorized:
        pass  # a new database (or revoked keys): mint new ones
    made: dict[str, str] = {}
    async with db.write_transaction():
        for role in ROLES:
            made[role], _ = await auth.create_key(
                role=role,
                store_code=store_code if role == "pos" else None,
                name=f"demo {'till' if role == 'pos' else role}",
                now=now,
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"{role}={secret}\n" for role, secret in made.items()))
    path.chmod(0o600)  # an existing file keeps its old mode through O_TRUNC
    return made
