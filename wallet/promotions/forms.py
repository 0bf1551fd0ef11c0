"""The console's promotion form: what a marketer types (roubles, percents, local dates,
comma-separated lists) turned into the ``PromotionIn`` the API takes, and every refusal
turned into a Russian sentence next to the field it is about.

The form covers the kinds marketers run every week (a multiplier or a rate on categories
or SKUs in a date window, a receipt bonus over a minimum total, a percent off, N for M,
any of them only with a coupon); anything richer goes through the API's JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from wallet.errors import DomainError
from wallet.promotions.schemas import PromotionIn

KINDS = {
    "multiplier": "Множитель баллов (×2, ×3…)",
    "rate": "Свой процент баллами",
    "receipt_bonus": "Баллы за чек от суммы",
    "percent_off": "Скидка в процентах",
    "n_for_m": "N по цене M (1+1, 2+1)",
}
STACKING = {
    "stackable": "Складывается с другими",
    "exclusive": "Только одна в группе",
    "best": "Лучшая для покупателя в группе",
}
STATUS_RU = {
    "draft": "черновик",
    "active": "действует",
    "paused": "приостановлена",
    "ended": "завершена",
}
ROLES_RU = {"marketer": "маркетолог", "admin": "администратор", "support": "поддержка"}


def actor(value: str) -> str:
    """``marketer:Мария`` -> «Мария (маркетолог)», as the campaigns' pages say it."""
    role, _, name = value.partition(":")
    if role in ROLES_RU:
        return f"{name} ({ROLES_RU[role]})" if name else ROLES_RU[role]
    return value


FIELDS = (
    "name",
    "kind",
    "times",
    "rate_percent",
    "points",
    "min_total",
    "percent",
    "take",
    "pay",
    "categories",
    "skus",
    "starts_on",
    "ends_on",
    "coupon",
    "budget_points",
    "stacking",
)
_LIST_SPLIT = re.compile(r"[,;\n]+")


@dataclass
class Parsed:
    """What the form said: the promotion when it is whole, else the errors by field
    (``""``: about the form as a whole); ``values``: what was typed, to show it again."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    promotion: PromotionIn | None = None


def blank() -> dict[str, str]:
    """The values of an empty form (a multiplier ×2, stacking with others)."""
    return {name: "" for name in FIELDS} | {
        "kind": "multiplier",
        "times": "2",
        "stacking": "stackable",
    }


def _int(p: Parsed, name: str, label: str, low: int, high: int) -> int | None:
    text = p.values[name].replace("\u00a0", "").replace(" ", "")
    if not text:
        p.errors[name] = f"Укажите {label}"
        return None
    if not re.fullmatch(r"-?\d{1,12}", text):
        p.errors[name] = f"{label.capitalize()} — целое число"
        return None
    value = int(text)
    if not low <= value <= high:
        p.errors[name] = f"{label.capitalize()}: от {low:,} до {high:,}".replace(",", "\u00a0")
        return None
    return value


def _hundredths(p: Parsed, name: str, label: str, low: Decimal, high: Decimal) -> int | None:
    """A number with up to two decimals (``7,5`` or ``1 500.50``) in hundredths: percents
    to basis points, roubles to kopecks."""
    text = p.values[name].replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not text:
        p.errors[name] = f"Укажите {label}"
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        p.errors[name] = f"{label.capitalize()} — число, не больше двух знаков после запятой"
        return None
    if not low <= value <= high:
        p.errors[name] = f"{label.capitalize()}: от {low:g} до {high:g}".replace(".", ",")
        return None
    return int(value * 100)


def _labels(p: Parsed, name: str) -> list[str]:
    found = [part.strip() for part in _LIST_SPLIT.split(p.values[name]) if part.strip()]
    if any(len(part) > 64 for part in found):
        p.errors[name] = "Каждое значение — не длиннее 64 знаков"
    elif len(found) > 1000:
        p.errors[name] = "Не больше 1000 значений"
    return found


def _day(p: Parsed, name: str, zone: ZoneInfo, *, after: int = 0) -> datetime | None:
    """Local midnight of the day typed (``after``: days later), as an aware time."""
    text = p.values[name].strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
        return datetime.combine(day + timedelta(days=after), time(0), tzinfo=zone)
    except (ValueError, OverflowError):
        p.errors[name] = "Дата в виде ГГГГ-ММ-ДД"
        return None


def parse(form: dict[str, str], *, zone: ZoneInfo) -> Parsed:
    p = Parsed({name: str(form.get(name, "")).strip() for name in FIELDS})
    v = p.values
    name = v["name"]
    if not name:
        p.errors["name"] = "Дайте акции название"
    elif len(name) > 200 or any(ord(ch) < 32 for ch in name):
        p.errors["name"] = "Название — одна строка до 200 знаков"
    kind = v["kind"]
    effect: dict[str, Any] = {"kind": kind}
    conditions: list[dict[str, Any]] = []
    if kind == "multiplier":
        effect["times"] = _int(p, "times", "множитель", 2, 100)
    elif kind == "rate":
        effect["rate_bp"] = _hundredths(p, "rate_percent", "процент", Decimal("0.01"), Decimal(100))
    elif kind == "receipt_bonus":
        effect["points"] = _int(p, "points", "число баллов", 1, 1_000_000)
        minimum = _hundredths(p, "min_total", "сумму чека", Decimal(0), Decimal(10_000_000))
        if minimum:
            conditions.append({"kind": "min_total", "kopecks": minimum})
    elif kind == "percent_off":
        effect["percent_bp"] = _hundredths(p, "percent", "скидку", Decimal("0.01"), Decimal(100))
    elif kind == "n_for_m":
        take = _int(p, "take", "сколько берут", 2, 100)
        pay = _int(p, "pay", "за сколько платят", 1, 99)
        if take is not None and pay is not None and pay >= take:
            p.errors["pay"] = "Платят меньше, чем берут (2 по цене 1, 3 по цене 2)"
        effect |= {"take": take, "pay": pay}
    else:
        p.errors["kind"] = "Выберите вид акции из списка"
    categories = _labels(p, "categories")
    skus = _labels(p, "skus")
    if categories or skus:
        conditions.append({"kind": "lines", "categories": categories, "skus": skus})
    zone_start = _day(p, "starts_on", zone)
    # The last day counts whole: the window ends at the next local midnight.
    zone_end = _day(p, "ends_on", zone, after=1)
    if (zone_start is None) != (zone_end is None) and "starts_on" not in p.errors:
        if "ends_on" not in p.errors:
            missing = "ends_on" if zone_end is None else "starts_on"
            p.errors[missing] = "Укажите обе даты или ни одной"
    elif zone_start is not None and zone_end is not None:
        if zone_end <= zone_start:
            p.errors["ends_on"] = "Акция кончается раньше, чем начинается"
        conditions.insert(0, {"kind": "window", "starts_at": zone_start, "ends_at": zone_end})
    if v["coupon"]:
        conditions.append({"kind": "coupon"})
    budget: dict[str, Any] = {}
    if v["budget_points"]:
        budget["points"] = _int(p, "budget_points", "бюджет в баллах", 1, 1_000_000_000)
    if v["stacking"] not in STACKING:
        p.errors["stacking"] = "Выберите, как акция складывается с другими"
    if p.errors:
        return p
    raw = {
        "name": name,
        "effects": [effect],
        "conditions": conditions,
        "stacking": v["stacking"],
        "budget": budget,
    }
    try:
        p.promotion = msgspec.convert(raw, PromotionIn)
    except msgspec.ValidationError:
        # Every field was checked above; this is a bound the form does not know of.
        p.errors[""] = "Акцию нельзя сохранить с такими значениями: проверьте поля"
    return p


# What the service refuses, by its machine code: the field it is about and what to say.
_REFUSALS = {
    "multiplier_out_of_range": ("times", "Множитель — от 1 до 100"),
    "window_ends_before_start": ("ends_on", "Акция кончается раньше, чем начинается"),
    "n_for_m_invalid": ("pay", "Платят меньше, чем берут"),
    "unknown_category": ("categories", "Таких категорий ещё не было ни в одном чеке: {values}"),
    "unknown_sku": ("skus", "Таких артикулов ещё не было ни в одном чеке: {values}"),
    "lines_empty": ("categories", "Укажите категории или артикулы"),
}


def refusal(exc: DomainError) -> tuple[str, str]:
    """The field a service refusal is about (``""``: the whole form) and its Russian text."""
    found = _REFUSALS.get(exc.code)
    if found is None:
        return "", f"Акцию не сохранить: {exc.message}"
    values = ", ".join((exc.details or {}).get("values", []))
    return found[0], found[1].format(values=values)
