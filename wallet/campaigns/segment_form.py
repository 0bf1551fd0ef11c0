"""The console's segment form: conditions picked from lists, in groups (the conditions of
a group all hold; any one group is enough), read into the same ``SegmentFilter`` JSON the
API keeps, and a saved filter written back into the form to edit it.

Every mistake is said in Russian next to its field (``errors`` keyed by the field's name),
never as a parser's message; what was typed is kept (the caller re-renders the raw form).
Money is typed in roubles ("1 500" or "1500,50") and kept in kopecks; points are whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from wallet import inputs
from wallet.segments.schemas import RFM_GROUP_NAMES, RFM_GROUPS, SegmentFilter

# A group is the empty form plus one: the marketer adds an OR group by filling the spare.
MAX_GROUPS = 10

RFM_NAMES = RFM_GROUP_NAMES
MONTHS = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)
WALLETS = {"apple": "Apple Wallet", "google": "Google Wallet", "none": "ни в одном"}
LAST_PURCHASE = {
    "": "неважно",
    "within": "не позже, чем дней назад",
    "before": "давно: больше, чем дней назад",
    "never": "ни разу не покупали",
}
YES_NO = {"": "неважно", "yes": "да", "no": "нет"}
GOALS = {
    # of the current month in the program's zone (a month is settled when it ends)
    "in_progress": "идёт к цели месяца",
    "reached": "достиг цели месяца",
    "missed": "не достиг цели (месяц подведён)",
}

# The fields of one group, each read by the parser below; the template names inputs
# f"g{n}_{field}".
NUMBERS = {
    # field: (filter key, lowest, highest, what it is, in the message)
    "balance_min": ("balance_min", 0, inputs.INT64_MAX, "баланс"),
    "balance_max": ("balance_max", 0, inputs.INT64_MAX, "баланс"),
    "burning_min": ("burning_points_min", 1, inputs.INT64_MAX, "баллы"),
    "burning_days": ("burning_within_days", 1, 3660, "дни"),
    "last_days": ("", 1, 3660, "дни"),
    "window_days": ("window_days", 1, 3660, "дни"),
    "purchases_min": ("purchases_min", 0, 2_147_483_647, "покупки"),
    "purchases_max": ("purchases_max", 0, 2_147_483_647, "покупки"),
    "birthday_day": ("birthday_day", 1, 31, "день"),
}
MONEY = {"spend_min": "spend_min_kopecks", "spend_max": "spend_max_kopecks"}
LISTS = ("tiers", "rfm", "join_stores", "last_stores", "wallets", "goals")


class FormValues(dict[str, Any]):
    """A group's values as the template shows them: text for a field, a list for choices;
    a missing field reads as empty (the template uses ``values.get``)."""


@dataclass
class ReadForm:
    flt: SegmentFilter | None
    # field name (g0_balance_min, name) -> what is wrong, in Russian
    errors: dict[str, str] = field(default_factory=dict)
    groups: list[FormValues] = field(default_factory=list)


class Multi:
    """``getall`` over a form (Litestar's multi-dict, or a plain dict in tests)."""

    def __init__(self, form: Any) -> None:
        self.form = form

    def one(self, key: str) -> str:
        value = self.form.get(key, "")
        return str(value or "").strip()

    def all(self, key: str) -> list[str]:
        if hasattr(self.form, "getall"):
            return [str(v) for v in self.form.getall(key, [])]
        value = self.form.get(key)
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _number(text: str, low: int, high: int) -> int | str:
    """The number, or what is wrong with it (Russian)."""
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    if not cleaned.isascii() or not cleaned.lstrip("-").isdigit():
        return "Введите целое число"
    value = int(cleaned)
    if value < low:
        return f"Не меньше {low}"
    if value > high:
        return "Слишком большое число"
    return value


def _kopecks(text: str) -> int | str:
    """Roubles as typed ("1 500", "1500,50") in kopecks, or what is wrong."""
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".").removesuffix("₽")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return "Введите сумму в рублях, например 1500 или 1500,50"
    if not amount.is_finite() or amount < 0:
        return "Сумма не может быть отрицательной"
    if amount != amount.quantize(Decimal("0.01")):
        return "Не больше двух знаков после запятой"
    kopecks = int(amount * 100)
    if kopecks > inputs.INT64_MAX:
        return "Слишком большая сумма"
    return kopecks


def _group(
    form: Multi, n: int, errors: dict[str, str], known: Mapping[str, Sequence[str]]
) -> tuple[dict[str, Any], FormValues]:
    prefix = f"g{n}_"
    raw: dict[str, Any] = {}
    shown = FormValues()
    for name, (key, low, high, _what) in NUMBERS.items():
        text = form.one(prefix + name)
        shown[name] = text
        if not text:
            continue
        value = _number(text, low, high)
        if isinstance(value, str):
            errors[prefix + name] = value
        elif key:
            raw[key] = value
    for name, key in MONEY.items():
        text = form.one(prefix + name)
        shown[name] = text
        if text:
            value = _kopecks(text)
            if isinstance(value, str):
                errors[prefix + name] = value
            else:
                raw[key] = value
    for name in LISTS:
        picked = [v for v in form.all(prefix + name) if v]
        shown[name] = picked
        allowed = known[name]
        strange = [v for v in picked if v not in allowed]
        if strange:
            errors[prefix + name] = "Такого варианта нет в списке: обновите страницу"
        elif picked:
            key = {"rfm": "rfm_groups", "goals": "goal_statuses"}.get(name, name)
            raw[key] = list(dict.fromkeys(picked))
    last = form.one(prefix + "last_purchase")
    shown["last_purchase"] = last
    if last not in LAST_PURCHASE:
        errors[prefix + "last_purchase"] = "Выберите вариант из списка"
    elif last == "never":
        raw["never_purchased"] = True
    elif last:
        typed = shown["last_days"]
        if not typed:
            errors[prefix + "last_days"] = "Сколько дней назад?"
        elif prefix + "last_days" not in errors:
            days = int(typed.replace(" ", ""))
            key = "last_purchase_within_days" if last == "within" else "last_purchase_before_days"
            raw[key] = days
    for name, key in (
        ("marketing_email", "marketing_email"),
        ("marketing_push", "marketing_push"),
        ("cashback", "cashback_opted_in"),
    ):
        choice = form.one(prefix + name)
        shown[name] = choice
        if choice not in YES_NO:
            errors[prefix + name] = "Выберите вариант из списка"
        elif choice:
            raw[key] = choice == "yes"
    month = form.one(prefix + "birthday_month")
    shown["birthday_month"] = month
    if month:
        value = _number(month, 1, 12)
        if isinstance(value, str):
            errors[prefix + "birthday_month"] = "Выберите месяц из списка"
        else:
            raw["birthday_month"] = value
    if "birthday_day" in raw and "birthday_month" not in raw:
        errors[prefix + "birthday_month"] = "День рождения: выберите и месяц"
    for from_key, to_key, label in (
        ("balance_min", "balance_max", "баланс"),
        ("purchases_min", "purchases_max", "число покупок"),
        ("spend_min_kopecks", "spend_max_kopecks", "сумму покупок"),
    ):
        if from_key in raw and to_key in raw and raw[from_key] > raw[to_key]:
            errors[prefix + to_key.removesuffix("_kopecks")] = (
                f"«До» меньше, чем «от»: проверьте {label}"
            )
    return raw, shown


# The keys that only tune another condition: alone they select nobody differently.
_TUNING = {"burning_within_days", "window_days"}


def read(form: Any, known: Mapping[str, Sequence[str]]) -> ReadForm:
    """The form as a filter (``flt`` None when anything is wrong, with ``errors``).
    ``known``: the choices the lists offered (tiers, rfm, join_stores, last_stores,
    wallets), anything else is refused."""
    multi = Multi(form)
    errors: dict[str, str] = {}
    filters: list[dict[str, Any]] = []
    groups: list[FormValues] = []
    for n in range(MAX_GROUPS):
        if not any(str(key).startswith(f"g{n}_") for key in _keys(form)):
            break
        raw, shown = _group(multi, n, errors, known)
        groups.append(shown)
        if set(raw) - _TUNING:
            filters.append(raw)
    if errors:
        return ReadForm(flt=None, errors=errors, groups=groups)
    body: dict[str, Any] = filters[0] if len(filters) == 1 else {}
    if len(filters) > 1:
        body = {"any_of": filters}
    try:
        flt = msgspec.convert(body, SegmentFilter)
    except msgspec.ValidationError:
        return ReadForm(
            flt=None, errors={"form": "Проверьте условия: одно из них не подходит"}, groups=groups
        )
    return ReadForm(flt=flt, groups=groups)


def _keys(form: Any) -> list[str]:
    return [str(key) for key in form.keys()]


def values_of(flt: SegmentFilter) -> list[FormValues] | None:
    """A saved filter as the form's groups; None for one the form cannot show (OR groups
    beside conditions of their own, made through the API)."""
    if flt.any_of:
        if msgspec.structs.replace(flt, any_of=None) != SegmentFilter():
            return None
        return [_values(group) for group in flt.any_of]
    return [_values(flt)]


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _roubles(kopecks: int | None) -> str:
    if kopecks is None:
        return ""
    roubles, rest = divmod(kopecks, 100)
    return f"{roubles},{rest:02d}" if rest else str(roubles)


def _values(flt: SegmentFilter) -> FormValues:
    last, days = "", None
    if flt.never_purchased:
        last = "never"
    elif flt.last_purchase_within_days is not None:
        last, days = "within", flt.last_purchase_within_days
    elif flt.last_purchase_before_days is not None:
        last, days = "before", flt.last_purchase_before_days

    def yes_no(value: bool | None) -> str:
        return "" if value is None else ("yes" if value else "no")

    return FormValues(
        balance_min=_text(flt.balance_min),
        balance_max=_text(flt.balance_max),
        burning_min=_text(flt.burning_points_min),
        burning_days=_text(flt.burning_within_days) if flt.burning_points_min else "",
        last_purchase=last,
        last_days=_text(days),
        window_days=_text(flt.window_days)
        if flt.purchases_min is not None
        or flt.purchases_max is not None
        or flt.spend_min_kopecks is not None
        or flt.spend_max_kopecks is not None
        else "",
        purchases_min=_text(flt.purchases_min),
        purchases_max=_text(flt.purchases_max),
        spend_min=_roubles(flt.spend_min_kopecks),
        spend_max=_roubles(flt.spend_max_kopecks),
        birthday_month=_text(flt.birthday_month),
        birthday_day=_text(flt.birthday_day),
        tiers=list(flt.tiers or []),
        rfm=list(flt.rfm_groups or []),
        join_stores=list(flt.join_stores or []),
        last_stores=list(flt.last_stores or []),
        wallets=list(flt.wallets or []),
        goals=list(flt.goal_statuses or []),
        marketing_email=yes_no(flt.marketing_email),
        marketing_push=yes_no(flt.marketing_push),
        cashback=yes_no(flt.cashback_opted_in),
    )


def rfm_name(group: str | None) -> str:
    return RFM_NAMES.get(group or "", group or "—")


__all__ = ["RFM_GROUPS", "ReadForm", "read", "values_of"]
