"""The reports in the marketers' console (Russian): points liability and point movements,
each with its chart as inline SVG, its figures in tables beside it, and CSV/XLSX links.

Sign-in is the console's own (the staff-key cookie of ``wallet.campaigns.console``). The
pages only read, over GET, so they carry no form to forge and need no CSRF token.
Dates in the forms are the program's zone: a day means its local midnight to midnight.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.response import Redirect

from wallet import clock, words
from wallet import settings as settings_module
from wallet.campaigns import console as campaigns_console
from wallet.campaigns import pages
from wallet.errors import DomainError
from wallet.inputs import PathId
from wallet.reports import (
    campaign_outcome,
    charts,
    export,
    health,
    offer_outcome,
    service,
    standings,
)
from wallet.reports.api import file_reply
from wallet.reports.export import MOVEMENT_HEADERS
from wallet.segments.schemas import RFM_GROUP_NAMES, RFM_GROUPS

DEFAULT_DAYS = 30


def _rub(kopecks: int) -> str:
    """12 345,60 ₽ for a person's eye (the files keep plain numbers)."""
    whole, part = divmod(abs(kopecks), 100)
    sign = "−" if kopecks < 0 else ""
    return f"{sign}{whole:,}".replace(",", "\u00a0") + f",{part:02d}\u00a0₽"


def _n(value: int) -> str:
    return f"{value:,}".replace(",", "\u00a0").replace("-", "−")


def _local_moment(text: str) -> datetime:
    """A ``datetime-local`` value ("2026-11-30T18:00") in the program's zone."""
    return datetime.fromisoformat(text).replace(tzinfo=settings_module.get().tz)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=settings_module.get().tz)


def _month_errors(first: str | None, last: str | None) -> dict[str, str]:
    errors = {}
    for field, month in (("from", first), ("to", last)):
        try:
            if month is not None:
                datetime.strptime(month, "%Y-%m")
        except ValueError:
            errors[field] = "Укажите месяц: год и месяц, например 2026-11"
    return errors


def _refused(
    template: str, context: dict[str, Any], said: dict[str, str], status_code: int = 422
) -> Response[Any]:
    """The form again with what was typed and the refusal beside its field."""
    errors = {**context["errors"], **{k: v for k, v in said.items() if k}}
    context.update(errors=errors, error=said.get("", ""))
    return pages.html(template, context, status_code=status_code)


def _format(request: Request[Any, Any, Any]) -> str:
    kind = request.query_params.get("format", "")
    return kind if kind in ("csv", "xlsx") else ""


class ReportsConsoleController(Controller):
    path = "/console/reports"
    include_in_schema = False

    @get("/liability")
    async def liability(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await campaigns_console.signed_in(request)
        if who is None:
            return Redirect("/console/login", status_code=303)
        raw = request.query_params.get("as_of", "").strip()
        now = clock.now()
        context: dict[str, Any] = {
            "who": who[0],
            "as_of": raw,
            "error": "",
            "errors": {},
            "report": None,
        }
        try:
            as_of = _local_moment(raw) if raw else now
        except (ValueError, OverflowError):
            return _refused("console_liability.html", context, {"as_of": "Укажите дату и время"})
        try:
            report = await service.liability(as_of, now=now)
        except DomainError as exc:
            said = _refusal(exc, moments={as_of.isoformat(): "as_of"})
            return _refused("console_liability.html", context, said)
        kind = _format(request)
        if kind:
            stamp = report.as_of.strftime("%Y%m%d-%H%M")
            return file_reply(export.liability_sheets(report), kind, f"liability-{stamp}")  # type: ignore[arg-type]
        context.update(
            report=report,
            chart=charts.liability_by_expiry(report),
            shown_at=report.as_of.astimezone(settings_module.get().tz).strftime("%d.%m.%Y %H:%M"),
            rub=_rub,
            n=_n,
        )
        return pages.html("console_liability.html", context)

    @get("/movements")
    async def movements(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await campaigns_console.signed_in(request)
        if who is None:
            return Redirect("/console/login", status_code=303)
        today = clock.local_date(clock.now(), settings_module.get().tz)
        first = request.query_params.get("from", "").strip()
        last = request.query_params.get("to", "").strip()
        store = request.query_params.get("store", "").strip() or None
        context: dict[str, Any] = {
            "who": who[0],
            "first": first or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "last": last or today.isoformat(),
            "store": store or "",
            "stores": [],
            "error": "",
            "errors": {},
            "report": None,
            "headers": MOVEMENT_HEADERS,
        }
        bounds: dict[str, datetime] = {}
        for field, key, days in (("from", "first", 0), ("to", "last", 1)):
            try:
                day = date.fromisoformat(context[key])
            except ValueError:
                context["errors"][field] = "Укажите день"
                continue
            try:
                bounds[field] = _local_midnight(day + timedelta(days=days))
            except OverflowError:
                context["errors"][field] = _years(day)
        if context["errors"]:
            return _refused("console_movements.html", context, {})
        start, end = bounds["from"], bounds["to"]
        try:
            report = await service.movements(start, end, store=store)
        except DomainError as exc:
            said = _refusal(exc, moments={start.isoformat(): "from", end.isoformat(): "to"})
            return _refused("console_movements.html", context, said)
        kind = _format(request)
        if kind:
            name = f"movements-{context['first']}-{context['last']}"
            return file_reply(export.movements_sheets(report), kind, name)  # type: ignore[arg-type]
        context.update(report=report, chart=charts.movements_by_day(report), n=_n)
        return pages.html("console_movements.html", context)

    @get("/campaigns/{campaign_id:int}")
    async def campaign(self, request: Request[Any, Any, Any], campaign_id: PathId) -> Response[Any]:
        who = await campaigns_console.signed_in(request)
        if who is None:
            return Redirect("/console/login", status_code=303)
        raw = request.query_params.get("window_days", "").strip()
        context: dict[str, Any] = {
            "who": who[0],
            "campaign_id": campaign_id,
            "window_days": raw or str(campaign_outcome.DEFAULT_WINDOW_DAYS),
            "error": "",
            "errors": {},
            "report": None,
        }
        try:
            days = int(raw) if raw else campaign_outcome.DEFAULT_WINDOW_DAYS
        except ValueError:
            said = {"window_days": f"Целое число дней от 1 до {campaign_outcome.MAX_WINDOW_DAYS}"}
            return _refused("console_campaign_outcome.html", context, said)
        try:
            report = await campaign_outcome.outcome(campaign_id, window_days=days, now=clock.now())
        except DomainError as exc:
            return _refused(
                "console_campaign_outcome.html", context, _refusal(exc), exc.status_code
            )
        kind = _format(request)
        if kind:
            name = f"campaign-{campaign_id}-{report.window_days}d"
            return file_reply(export.campaign_sheets(report), kind, name)  # type: ignore[arg-type]
        tz = settings_module.get().tz
        context.update(
            report=report,
            chart=charts.campaign_uplift(report),
            started=report.window_start.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
            ends=report.window_end.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
            metric_names=export.METRIC_NAMES,
            method_names=export.METHOD_NAMES,
            figure=_figure,
            rub=_rub,
            n=_n,
        )
        return pages.html("console_campaign_outcome.html", context)

    @get("/offers/{offer_id:int}")
    async def offer(self, request: Request[Any, Any, Any], offer_id: PathId) -> Response[Any]:
        who = await campaigns_console.signed_in(request)
        if who is None:
            return Redirect("/console/login", status_code=303)
        first = request.query_params.get("from", "").strip() or None
        last = request.query_params.get("to", "").strip() or None
        context: dict[str, Any] = {
            "who": who[0],
            "offer_id": offer_id,
            "first": first or "",
            "last": last or "",
            "error": "",
            "errors": _month_errors(first, last),
            "report": None,
        }
        if context["errors"]:
            return _refused("console_offer_outcome.html", context, {})
        try:
            report = await offer_outcome.outcome(offer_id, start=first, end=last, now=clock.now())
        except DomainError as exc:
            return _refused("console_offer_outcome.html", context, _refusal(exc), exc.status_code)
        kind = _format(request)
        if kind:
            name = f"offer-{offer_id}-{report.months[0].month}-{report.months[-1].month}"
            return file_reply(export.offer_sheets(report), kind, name)  # type: ignore[arg-type]
        context.update(report=report, chart=charts.offer_spend(report), rub=_rub, n=_n)
        return pages.html("console_offer_outcome.html", context)

    @get("/health")
    async def health(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await campaigns_console.signed_in(request)
        if who is None:
            return Redirect("/console/login", status_code=303)
        first = request.query_params.get("from", "").strip() or None
        last = request.query_params.get("to", "").strip() or None
        context: dict[str, Any] = {
            "who": who[0],
            "first": first or "",
            "last": last or "",
            "error": "",
            "errors": _month_errors(first, last),
            "report": None,
        }
        if context["errors"]:
            return _refused("console_health.html", context, {})
        try:
            report = await health.health(first, last, now=clock.now())
        except DomainError as exc:
            return _refused("console_health.html", context, _refusal(exc), 422)
        kind = _format(request)
        if kind:
            name = f"health-{report.start}-{report.end}"
            return file_reply(export.health_sheets(report), kind, name)  # type: ignore[arg-type]
        context.update(
            report=report,
            chart=charts.activity_by_month(report),
            heat=charts.heat,
            rub=_rub,
            n=_n,
            **_standings_context(report),
        )
        return pages.html("console_health.html", context)


def _standings_context(report: Any) -> dict[str, Any]:
    """The tier chart and, for the latest month with moves, the from→to tables of tiers and
    of RFM groups (Russian group names, cells coloured by direction and share)."""
    shown = [s for s in report.standings if s.tier_moves is not None]
    latest = shown[-1] if shown else None
    tiers = list(dict.fromkeys(t.tier for s in report.standings for t in s.tiers))

    def tier_kind(row: str | None, col: str | None) -> str:
        if row is None or row not in tiers or col not in tiers:
            return "same" if row == col else "new"
        step = tiers.index(col) - tiers.index(row)
        return "up" if step > 0 else "down" if step < 0 else "same"

    return {
        "tier_chart": charts.tiers_by_month(report)
        if any(s.recorded for s in report.standings)
        else "",
        "moves_month": latest,
        "tier_matrix": standings.matrix(latest.tier_moves.matrix, tiers) if latest else None,
        "rfm_matrix": standings.matrix(latest.rfm_moves or [], list(RFM_GROUPS))
        if latest
        else None,
        "tier_kind": tier_kind,
        "move_cell": charts.move_cell,
        "rfm_name": lambda code: (
            "без покупателя" if code is None else RFM_GROUP_NAMES.get(code, code)
        ),
    }


# ---- refusals as the console says them -------------------------------------------------------
#
# The services refuse in English for the API's developers; a marketer gets Russian, beside
# the field it is about, with what was typed still in the form.

_NOT_FOUND = {
    "campaign_not_found": "Такой кампании нет",
    "offer_not_found": "Такого предложения кешбэка нет",
}


def _years(moment: Any) -> str:
    return (
        f"Дата вне {service.EARLIEST.year}–{service.LATEST.year - 1} годов"
        if moment
        else "Неверная дата"
    )


def _refusal(exc: DomainError, *, moments: dict[str, str] | None = None) -> dict[str, str]:
    """``{field: Russian message}`` for a service's refusal; ``""`` is the page's own error
    (not about one field). ``moments`` names the field each checked moment came from."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code in _NOT_FOUND:
        return {"": _NOT_FOUND[exc.code]}
    if "store" in details:
        return {"store": f"Магазина с кодом «{details['store']}» нет"}
    if "moment" in details:
        field = (moments or {}).get(str(details["moment"]), "")
        return {field: _years(details["moment"])}
    if "window_days" in details:
        return {"window_days": f"Целое число дней от 1 до {details.get('max_days', 90)}"}
    if "max_days" in details:
        days = int(details["max_days"])
        return {
            "to": f"Период длиннее {days} {words.plural(days, 'дня', 'дней', 'дней')}: не больше года"
        }
    if "max_months" in details:
        months = int(details["max_months"])
        return {
            "to": f"Период длиннее {months} {words.plural(months, 'месяца', 'месяцев', 'месяцев')}"
        }
    if "as_of" in details and "now" in details:
        return {"as_of": "Это время ещё не наступило: обязательства известны на сейчас"}
    if "to" in details and "now" in details:
        return {"to": "Этот месяц ещё не наступил"}
    if "from" in details and "to" in details:
        return {"to": "Конец периода раньше начала"}
    if "status" in details:
        return {"": "Кампания ещё не отправлена: сравнивать не с чем"}
    return {"": "Отчёт не построился: проверьте поля формы"}


def _figure(metric: str, value: float, *, signed: bool = False) -> str:
    """A compared figure in its unit: a share in %, roubles, or a plain number."""
    sign = "+" if signed and value > 0 else ""
    if metric == "buyers_share":
        text = f"{sign}{value * 100:.1f}\u00a0%"
    elif metric == "revenue_per_shopper_kopecks":
        text = f"{sign}{value / 100:,.2f}\u00a0₽".replace(",", "\u00a0")
    else:
        text = f"{sign}{value:.2f}"
    return text.replace(".", ",").replace("-", "−")
