"""Promotions in the marketers' console (Russian): the list with live counters, a form for
the common kinds, the simulation on the last N days of receipts, activate / pause / end,
and coupon batches with their one download.

Sign-in is the console's (the staff-key cookie); the app hands the signed-in member of
staff in as the ``staff`` dependency (``wallet.auth.staff``), so this domain does not
import ``wallet.auth``. Every form posts a CSRF token bound to the key (``wallet.web.csrf``,
the scheme of the other console pages); the pages that only read are GETs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect

from wallet import clock, db
from wallet import settings as settings_module
from wallet.errors import DomainError, Forbidden
from wallet.inputs import PathId
from wallet.promotions import coupons, forms, service, simulation
from wallet.promotions.schemas import MAX_BATCH, CouponBatchIn, PromotionOut, Window
from wallet.web import csrf, responses, templates
from wallet.web.sessions import StaffSession

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
# The signed-in member of staff, None for nobody (provided by the app: wallet.auth.staff).
Staff = NamedDependency[StaffSession | None]
# What the console offers to move a promotion to, by its status (service.move decides).
ACTIONS = {
    "draft": [("activate", "Запустить")],
    "active": [("pause", "Приостановить"), ("end", "Завершить")],
    "paused": [("activate", "Возобновить"), ("end", "Завершить")],
    "ended": [],
}
ACTION_WORDS = {"activate": "запущена", "pause": "приостановлена", "end": "завершена"}
DEFAULT_DAYS = 30


def _n(value: int) -> str:
    return f"{value:,}".replace(",", "\u00a0").replace("-", "−")


def _rub(kopecks: int) -> str:
    whole, part = divmod(abs(kopecks), 100)
    sign = "−" if kopecks < 0 else ""
    return f"{sign}{whole:,}".replace(",", "\u00a0") + f",{part:02d}\u00a0₽"


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(settings_module.get().tz).strftime("%d.%m.%Y %H:%M")


def _window_ru(p: PromotionOut) -> str:
    zone = settings_module.get().tz
    for condition in p.definition.conditions:
        if isinstance(condition, Window):
            first = condition.starts_at.astimezone(zone)
            # The window ends at a local midnight when the form made it: show the last day.
            last = (condition.ends_at - timedelta(microseconds=1)).astimezone(zone)
            return f"{first:%d.%m.%Y} — {last:%d.%m.%Y}"
    return "без срока"


def _page(
    name: str, staff: StaffSession, context: dict[str, Any], status_code: int = 200
) -> Response[str]:
    body = templates.render(
        f"console/{name}",
        {
            "who": staff,
            "csrf": csrf.token(csrf.console_binding(staff.key)),
            "status_ru": forms.STATUS_RU,
            "n": _n,
            "rub": _rub,
            "local": _local,
            **context,
        },
    )
    return responses.html(body, status_code=status_code, headers={"Referrer-Policy": "no-referrer"})


def _go(url: str) -> Response[Any]:
    return Redirect(url, status_code=303)


def _check_csrf(staff: StaffSession, form: dict[str, str]) -> None:
    if not csrf.valid(csrf.console_binding(staff.key), form.get("csrf")):
        raise Forbidden("the form is stale or came from another site; reload the page")


class PromotionsConsoleController(Controller):
    path = "/console/promotions"
    include_in_schema = False

    @get("/")
    async def list_page(self, staff: Staff) -> Response[Any]:
        if staff is None:
            return _go("/console/login")
        found = sorted(await service.list_all(), key=lambda p: (p.status == "ended", -p.id))
        return _page(
            "console_promotions.html",
            staff,
            {
                "promotions": found,
                "gives": {p.id: service.gives_ru(p.definition) for p in found},
                "windows": {p.id: _window_ru(p) for p in found},
            },
        )

    def _form(
        self, staff: StaffSession, values: dict[str, str], errors: dict[str, str], status: int
    ) -> Response[str]:
        return _page(
            "console_promotion_new.html",
            staff,
            {
                "v": values,
                "errors": errors,
                "kinds": forms.KINDS,
                "stacking": forms.STACKING,
            },
            status_code=status,
        )

    @get("/new")
    async def new_page(self, staff: Staff) -> Response[Any]:
        if staff is None:
            return _go("/console/login")
        return self._form(staff, forms.blank(), {}, 200)

    @post("/", status_code=200)
    async def create(self, staff: Staff, data: Form) -> Response[Any]:
        if staff is None:
            return _go("/console/login")
        _check_csrf(staff, data)
        parsed = forms.parse(data, zone=settings_module.get().tz)
        if parsed.promotion is None:
            return self._form(staff, parsed.values, parsed.errors, 422)
        try:
            async with db.write_transaction():
                created = await service.create(parsed.promotion, actor=staff.actor, now=clock.now())
        except DomainError as exc:
            where, text = forms.refusal(exc)
            return self._form(staff, parsed.values, {where: text}, 422)
        return _go(f"/console/promotions/{created.id}?saved=1")

    @get("/{promotion_id:int}")
    async def promotion_page(
        self,
        staff: Staff,
        promotion_id: PathId,
        days: FromQuery[str | None] = None,
        saved: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
        error: FromQuery[str | None] = None,
    ) -> Response[Any]:
        if staff is None:
            return _go("/console/login")
        return await _promotion_page(
            staff, promotion_id, days=days, saved=saved, done=done, error=error
        )

    @post("/{promotion_id:int}/coupons", status_code=200)
    async def make_coupons(self, staff: Staff, promotion_id: PathId, data: Form) -> Response[Any]:
        if staff is None:
            return _go("/console/login")
        _check_csrf(staff, data)
        typed = data.get("count", "").strip()
        text = typed.replace(" ", "").replace("\u00a0", "")
        if not text.isdigit() or not 1 <= int(text) <= MAX_BATCH:
            # Said beside the field with what was typed, as every console form does.
            return await _promotion_page(
                staff,
                promotion_id,
                count=typed,
                count_error=f"Число купонов — целое, от 1 до {_n(MAX_BATCH)}",
            )
        try:
            async with db.write_transaction():
                await service.create_coupons(
                    promotion_id,
                    msgspec.convert({"count": int(text)}, CouponBatchIn),
                    actor=staff.actor,
                    now=clock.now(),
                )
        except DomainError as exc:
            message = _coupon_refusal(exc)
            return _go(f"/console/promotions/{promotion_id}?error={quote(message)}")
        return _go(f"/console/promotions/{promotion_id}")

    @get("/coupons/{batch_id:int}/codes.csv")
    async def download(self, staff: Staff, batch_id: PathId) -> Response[Any]:
        if staff is None:
            return _go("/console/login")
        try:
            async with db.write_transaction():
                text, promotion_id = await coupons.download(
                    batch_id, actor=staff.actor, now=clock.now()
                )
        except coupons.CodesNotReady:
            return _go("/console/promotions")
        except coupons.CodesAlreadyDownloaded:
            return responses.html(
                templates.render(
                    "console/console_gone.html",
                    {"who": staff, "csrf": csrf.token(csrf.console_binding(staff.key))},
                ),
                status_code=410,
            )
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="promotion-{promotion_id}-'
                f'coupons-{batch_id}.csv"',
                "Cache-Control": "no-store",
            },
        )

    @post("/{promotion_id:int}/{action:str}", status_code=200)
    async def move(
        self,
        staff: Staff,
        promotion_id: PathId,
        action: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        if staff is None:
            return _go("/console/login")
        _check_csrf(staff, data)
        if action not in ACTION_WORDS:
            return _go(f"/console/promotions/{promotion_id}")
        try:
            async with db.write_transaction():
                await service.move(promotion_id, action, actor=staff.actor, now=clock.now())
        except DomainError as exc:
            message = _move_refusal(exc)
            return _go(f"/console/promotions/{promotion_id}?error={quote(message)}")
        return _go(f"/console/promotions/{promotion_id}?done={action}")


async def _promotion_page(
    staff: Any,
    promotion_id: int,
    *,
    days: str | None = None,
    saved: str | None = None,
    done: str | None = None,
    error: str | None = None,
    count: str = "100",
    count_error: str = "",
) -> Response[Any]:
    """A promotion's page; a refused coupon count is shown beside its field, as typed."""
    promotion = await service.get(promotion_id)
    context: dict[str, Any] = {
        "p": promotion,
        "gives": service.gives_ru(promotion.definition),
        "window": _window_ru(promotion),
        "actions": ACTIONS[promotion.status],
        "uses_coupons": any(_kind(c) == "coupon" for c in promotion.definition.conditions),
        "batches": await coupons.batches(promotion_id),
        "max_batch": MAX_BATCH,
        "days": days if days is not None else str(DEFAULT_DAYS),
        "days_error": "",
        "simulation": None,
        "saved": bool(saved),
        "done": ACTION_WORDS.get(done or "", ""),
        "error": (error or "")[:300],
        "count": count,
        "count_error": count_error,
        "created_by": forms.actor(promotion.created_by),
    }
    if count_error:
        return _page("console_promotion.html", staff, context, status_code=422)
    if days is not None:
        text = days.strip()
        if not text.isdigit() or not 1 <= int(text) <= 366:
            context["days_error"] = "Число дней — от 1 до 366"
            return _page("console_promotion.html", staff, context, status_code=422)
        context["simulation"] = await simulation.simulate_now(
            promotion_id, days=int(text), now=clock.now()
        )
    return _page("console_promotion.html", staff, context)


def _kind(condition: Any) -> str:
    return str(type(condition).__struct_config__.tag)


def _move_refusal(exc: DomainError) -> str:
    if exc.code == "wrong_status":
        status = forms.STATUS_RU.get((exc.details or {}).get("status", ""), "")
        return f"Сейчас акция {status}: это действие ей недоступно"
    field, text = forms.refusal(exc)
    return text if field == "" else f"Акцию не запустить: {text}"


def _coupon_refusal(exc: DomainError) -> str:
    words = {
        "promotion_without_coupon": "У акции нет условия «по купону»: купоны ничего бы не дали",
        "promotion_ended": "Акция завершена: новые купоны к ней не выпустить",
    }
    return words.get(exc.code, f"Купоны не выпущены: {exc.message}")
