from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

# `tests.support` is imported as a namespace package from the repository root.
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from passes.apple import PassSigner  # noqa: E402
from passes.card import (  # noqa: E402
    AppleSettings,
    CardState,
    GoalProgress,
    Program,
    StoreLocation,
)
from passes.devcerts import make_dev_certs  # noqa: E402
from passes.google import GoogleSettings, ServiceAccount  # noqa: E402

PASS_TYPE_ID = "pass.test.loyalty.wallet"
TEAM_ID = "TESTTEAM42"
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def dev_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dev-certs")
    make_dev_certs(folder, pass_type_id=PASS_TYPE_ID, team_id=TEAM_ID)
    return folder


@pytest.fixture(scope="session")
def signer(dev_certs: Path) -> PassSigner:
    return PassSigner.from_files(
        dev_certs / "pass-cert.pem", dev_certs / "pass-key.pem", dev_certs / "wwdr.pem"
    )


@pytest.fixture(scope="session")
def service_account(dev_certs: Path) -> ServiceAccount:
    return ServiceAccount.from_file(dev_certs / "google-service-account.json")


@pytest.fixture
def apple() -> AppleSettings:
    return AppleSettings(
        pass_type_id=PASS_TYPE_ID,
        team_id=TEAM_ID,
        web_service_url="https://wallet.example.ru/passkit",
    )


@pytest.fixture
def google() -> GoogleSettings:
    return GoogleSettings(
        issuer_id="3388000000022222222",
        class_suffix="green_basket",
        origins=["https://wallet.example.ru"],
    )


@pytest.fixture
def program() -> Program:
    return Program(
        program_name="Зелёная корзина",
        organization_name="ООО «Зелёная корзина»",
        issuer_name="Зелёная корзина",
        terms_text_ru="1 балл = 1 рубль. Баллами можно оплатить до 20% покупки.",
        terms_text_en="1 point = 1 rouble. Points pay up to 20% of a purchase.",
        support_phone="+7 800 555-35-35",
        support_url="https://example.ru/help",
        logo_url="https://example.ru/logo.png",
        homepage_url="https://example.ru",
        locations=[
            StoreLocation(
                latitude=55.75 + i / 100, longitude=37.61, name=f"Магазин {i}", relevant_text=None
            )
            for i in range(12)
        ],
    )


@pytest.fixture
def make_state() -> Callable[..., CardState]:
    def make(**changes: Any) -> CardState:
        values: dict[str, Any] = {
            "serial_number": "card-00000042",
            "card_number": "2000000000428",
            "holder_name": "Анна Смирнова",
            "balance": 1234,
            "pending": 150,
            "tier_name": "Золото",
            "next_expiry_points": 300,
            "next_expiry_at": NOW + timedelta(days=20),
            "goal": GoalProgress(
                goal_kopecks=1_500_000,
                spent_kopecks=980_050,
                reward_points=196,
                cap_points=1000,
                month_ends_at=datetime(2025, 3, 31, 21, tzinfo=UTC),
            ),
            "status": "active",
            "message": None,
            "updated_at": NOW,
        }
        values.update(changes)
        return CardState(**values)

    return make


@pytest.fixture
def state(make_state: Callable[..., CardState]) -> CardState:
    return make_state()
