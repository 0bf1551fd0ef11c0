"""The console's campaign form read into ``CampaignIn``, every mistake said in Russian next
to its field (never a parser's or Jinja's message), and what was typed kept for the page.

The texts (subject, body, the pass message) are rendered once here with a stand-in
shopper, so "{{ имя }}" is caught as «неизвестное поле» before anything is saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from wallet.campaigns.schemas import CampaignIn

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
# What a marketer reads in the template list; a template without a name here shows its code.
TEMPLATE_NAMES = {
    "campaign_default": "Обычное письмо: текст и баланс карты",
    "campaign_welcome": "Приветствие нового покупателя",
    "campaign_birthday": "Поздравление с днём рождения",
}
FIELDS = "{{ name }}, {{ balance }}, {{ burning_points }}, {{ burning_date }}"
_STAND_IN = {
    "name": "Покупатель",
    "balance": 0,
    "burning_points": 0,
    "burning_date": "",
    "unsubscribe_url": "",
}
_sandbox = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_LIMITS = {"name": 200, "subject": 300, "push_header": 100, "push_text": 300, "body": 20_000}


def templates() -> list[tuple[str, str]]:
    """(code, name) of every campaign email template there is, the default first."""
    codes = sorted(
        {p.name.split(".", 1)[0] for p in TEMPLATES.glob("campaign_*.ru.html")},
        key=lambda code: (code != "campaign_default", code),
    )
    return [(code, TEMPLATE_NAMES.get(code, code)) for code in codes]


def _text_error(source: str) -> str | None:
    try:
        _sandbox.from_string(source).render(_STAND_IN)
    except UndefinedError as exc:
        unknown = str(exc).split("'")[1] if "'" in str(exc) else ""
        return f"Неизвестное поле «{unknown}». Можно вставить: {FIELDS}"
    except TemplateSyntaxError:
        return "Фигурные скобки не закрыты: поле пишется так: {{ name }}"
    except SecurityError:
        return f"Так в тексте нельзя. Можно вставить: {FIELDS}"
    except Exception:
        return f"Текст не собирается. Можно вставить: {FIELDS}"
    return None


def _fits(field: str, value: str) -> str | None:
    limit = _LIMITS[field]
    if len(value) > limit:
        return f"Слишком длинно: не больше {limit:,} знаков".replace(",", "\u00a0")
    multiline = field in ("body", "push_text")
    strange = [c for c in value if not c.isprintable() and not (multiline and c in "\n\t")]
    if strange:
        return "Одна строка, без служебных символов" if not multiline else "Лишние символы"
    return None


def read(
    form: dict[str, str], *, segment_ids: set[int]
) -> tuple[CampaignIn | None, dict[str, str], dict[str, Any]]:
    """(the campaign, {} ) or (None, errors by field); and the values to show again."""
    errors: dict[str, str] = {}
    channels = [c for c in ("email", "push") if form.get(f"channel_{c}")]
    values: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "channels": channels,
        "segment_id": form.get("segment_id", "").strip(),
        "template": form.get("template", "").strip() or "campaign_default",
        "subject": form.get("subject", ""),
        "body": form.get("body", "").replace("\r\n", "\n"),
        "push_header": form.get("push_header", ""),
        "push_text": form.get("push_text", ""),
        "email_rate": form.get("email_rate", "").strip(),
        "push_rate": form.get("push_rate", "").strip(),
        "holdout_percent": form.get("holdout_percent", "").strip(),
    }
    if not values["name"]:
        errors["name"] = "Назовите кампанию"
    if not channels:
        errors["channels"] = "Выберите хотя бы один канал"
    segment_id: int | None = None
    if values["segment_id"]:
        text = values["segment_id"]
        if not (text.isascii() and text.isdigit() and int(text) in segment_ids):
            errors["segment_id"] = "Выберите сегмент из списка"
        else:
            segment_id = int(text)
    if values["template"] not in dict(templates()):
        errors["template"] = "Выберите шаблон из списка"
    for field in ("name", "subject", "body", "push_header", "push_text"):
        problem = _fits(field, values[field])
        if problem is None and field != "name":
            problem = _text_error(values[field])
        if problem and field not in errors:
            errors[field] = problem
    if "push" in channels and not values["push_text"].strip() and "push_text" not in errors:
        errors["push_text"] = "Для сообщения на карте нужен текст"
    rates: dict[str, int] = {}
    for field in ("email_rate", "push_rate"):
        text = values[field] or "0"
        if not (text.isascii() and text.isdigit() and int(text) <= 100_000):
            errors[field] = "Целое число от 0 до 100\u00a0000"
        else:
            rates[field] = int(text)
    # The control group is asked in percent (10 = 10%) and kept in basis points.
    holdout = values["holdout_percent"].replace(",", ".") or "0"
    try:
        holdout_bp = round(float(holdout) * 100)
    except (ValueError, OverflowError):  # not a number, nan, inf
        holdout_bp = -1
    if not 0 <= holdout_bp <= 5000:
        errors["holdout_percent"] = "Число от 0 до 50 (процентов аудитории)"
    if errors:
        return None, errors, values
    raw = {
        **{k: v for k, v in values.items() if k != "holdout_percent"},
        "segment_id": segment_id,
        "holdout_bp": holdout_bp,
        **rates,
    }
    try:
        return msgspec.convert(raw, CampaignIn), {}, values
    except msgspec.ValidationError:
        # Every bound above mirrors the schema's; this is the net under them.
        return None, {"form": "Проверьте поля формы"}, values
