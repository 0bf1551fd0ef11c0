"""The card state a pass shows, and the program it belongs to.

These are the only inputs of `passes/`: the service reads its tables, fills these values
and calls the Apple and Google builders, which never look anywhere else. Money is integer
kopecks and points are integers, as everywhere in the product.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import msgspec

from passes.barcode import Kind as BarcodeKind
from wallet import words

CardStatus = Literal["active", "blocked", "replaced"]

_HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")

# Apple and Google both cap what they show; 10 is Apple's limit for `locations`.
MAX_LOCATIONS = 10


class GoalProgress(msgspec.Struct, frozen=True, kw_only=True):
    """The shopper's smart-goal cashback month, shown only after they opted in."""

    goal_kopecks: int
    spent_kopecks: int
    reward_points: int
    cap_points: int
    month_ends_at: datetime

    @property
    def reached(self) -> bool:
        return self.spent_kopecks >= self.goal_kopecks

    @property
    def left_kopecks(self) -> int:
        return max(0, self.goal_kopecks - self.spent_kopecks)

    @property
    def percent(self) -> int:
        if self.goal_kopecks <= 0:
            return 100
        return min(100, self.spent_kopecks * 100 // self.goal_kopecks)


def date_ru(day: date) -> str:
    """'31 января 2027', as a Russian reader writes a date."""
    return words.date(day, "ru")


def date_en(day: date) -> str:
    """'31 January 2027'."""
    return words.date(day, "en")


class BurnNotice(msgspec.Struct, frozen=True, kw_only=True):
    """A reminder that went out: these points burn on this (local) day."""

    points: int
    burns_on: date

    def text(self, language: str) -> str:
        """'300 баллов сгорят 31 января 2027' / '300 points expire on 31 January 2027'."""
        lang = words.lang_of(language)
        day = words.date(self.burns_on, lang)
        if lang == "en":
            verb = "expires" if self.points == 1 else "expire"
            return f"{words.points(self.points, lang)} {verb} on {day}"
        verb = words.plural(self.points, "сгорит", "сгорят", "сгорят")
        return f"{words.points(self.points)} {verb} {day}"


# Defaults are left out of the encoding: a pass's fingerprint (the service hashes this
# state) stays what it was for a card without the newer fields.
class CardState(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    serial_number: str
    card_number: str
    holder_name: str
    balance: int
    """Spendable points."""
    pending: int
    """Earned points still waiting out their hold before they can be spent."""
    tier_name: str
    next_expiry_points: int
    next_expiry_at: datetime | None
    goal: GoalProgress | None
    status: CardStatus
    message: str | None
    """A marketer's message; shown on the pass back and, when it changes, on the lock screen."""
    updated_at: datetime
    burn_notice: BurnNotice | None = None
    """Points about to burn, once their reminder went out: on the pass and the lock screen."""
    language: str = "ru"
    """The shopper's language ("ru" or "en"), for texts the pass composes for them."""
    tier_progress: str | None = None
    """What is missing for the next tier ("ещё 3 200 ₽ до 7%"), on the pass back."""
    personal_offers: list[str] = []
    """The shopper's own promotions (their segment's, their coupons with the code), one
    line each, on the pass back."""

    def __post_init__(self) -> None:
        for name in ("next_expiry_at", "updated_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"CardState.{name} must be timezone-aware (UTC)")


class StoreLocation(msgspec.Struct, frozen=True, kw_only=True):
    latitude: float
    longitude: float
    name: str
    relevant_text: str | None = None


class Program(msgspec.Struct, frozen=True, kw_only=True):
    program_name: str
    organization_name: str
    issuer_name: str
    foreground_color: str = "#FFFFFF"
    background_color: str = "#1F4E3D"
    label_color: str = "#CFE8DA"
    terms_text_ru: str = ""
    terms_text_en: str = ""
    support_phone: str | None = None
    support_url: str | None = None
    logo_url: str | None = None
    """A public HTTPS URL of the logo; Google Wallet fetches images itself."""
    homepage_url: str | None = None
    locations: list[StoreLocation] = msgspec.field(default_factory=list)
    """Shops in the order the service ranked them (nearest first); the first 10 are used."""
    images_dir: Path | None = None
    """PNGs overriding the default artwork in templates/pass/, file by file."""
    barcode: BarcodeKind = "QR"
    """The till barcode the card carries (``passes.barcode``)."""

    def __post_init__(self) -> None:
        for name in ("foreground_color", "background_color", "label_color"):
            if not _HEX_COLOUR.match(getattr(self, name)):
                raise ValueError(f"Program.{name} must be #RRGGBB, got {getattr(self, name)!r}")

    @property
    def first_locations(self) -> list[StoreLocation]:
        return self.locations[:MAX_LOCATIONS]


class AppleSettings(msgspec.Struct, frozen=True, kw_only=True):
    pass_type_id: str
    team_id: str
    web_service_url: str | None
    """The PassKit web service base URL; None builds a pass that never updates."""


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def format_points(points: int) -> str:
    """1234567 -> '1 234 567' (Russian grouping)."""
    return words.number(points)


def format_roubles(kopecks: int) -> str:
    """123456 -> '1 234,56 ₽'; whole roubles drop the kopecks: 500000 -> '5 000 ₽'."""
    return words.money(kopecks)
