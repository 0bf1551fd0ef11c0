"""The console's segment screens: build a segment with a form (conditions from lists, OR
groups), watch its count and a sample of its shoppers change as the form changes (a small
script calling ``/console/segments/preview``), edit, delete (the offers that still use it
named), and export its shoppers as CSV.

The form reads into the same ``SegmentFilter`` the API keeps (``segment_form``), so a
segment made here and one posted to ``/api/v1/admin/segments`` are the same thing.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException

from wallet import clock, db
from wallet.campaigns import console, labels, pages, segment_form
from wallet.errors import DomainError, Forbidden
from wallet.inputs import PathId
from wallet.platform import service as platform
from wallet.rules import service as rules_service
from wallet.segments import service as segments
from wallet.segments.schemas import RFM_GROUPS, SegmentIn
from wallet.stores import service as stores
from wallet.web import csrf

# The segment page runs one script of ours (the live count) and calls only us.
SCRIPT_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SCRIPT = Path(__file__).resolve().parents[2] / "templates" / "console" / "segment-form.js"
SAMPLE = 10
# A CSV export is for a person's spreadsheet, not a bulk feed: the API serves more.
EXPORT_LIMIT = 100_000


async def _choices(now: datetime) -> dict[str, list[tuple[str, str]]]:
    """What each list of the form offers: (value, what the marketer reads)."""
    rules = await rules_service.rules_at(now)
    tiers = list(dict.fromkeys(band.tier.name for band in rules.tier_bands()))
    shops = [(s.code, f"{s.name} ({s.code})") for s in await stores.list_stores()]
    return {
        "tiers": [(t, t) for t in tiers],
        "rfm": [(g, segment_form.RFM_NAMES[g]) for g in RFM_GROUPS],
        "join_stores": shops,
        "last_stores": shops,
        "wallets": list(segment_form.WALLETS.items()),
        "goals": list(segment_form.GOALS.items()),
    }


# Who may need a segment, as the refusal to delete it names them (details of SegmentInUse).
_USERS = (
    ("offer", "по нему отбираются участники предложений"),
    ("promotion", "по нему отбираются покупатели акций"),
    ("campaign", "по нему отбираются получатели кампаний"),
)


def _in_use(exc: DomainError) -> str:
    """«Сегмент не удалён: по нему отбираются участники предложений «…»; …» naming
    every offer, promotion and campaign that refused."""
    details = exc.details if isinstance(exc.details, dict) else {}
    said = []
    for kind, words in _USERS:
        names = details.get(f"{kind}_names") or [str(i) for i in details.get(f"{kind}_ids", [])]
        if names:
            said.append(f"{words} {', '.join(f'«{n}»' for n in names)}")
    return (
        f"Сегмент не удалён: {'; '.join(said) or 'он используется'}. "
        "Уберите сегмент из них, отмените или завершите их."
    )


def _known(choices: dict[str, list[tuple[str, str]]]) -> dict[str, list[str]]:
    return {name: [value for value, _ in options] for name, options in choices.items()}


async def _page(
    who: tuple[Any, str],
    *,
    segment: Any = None,
    name: str = "",
    groups: list[segment_form.FormValues] | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response[Any]:
    now = clock.now()
    shown = list(groups or [])
    # Groups left empty (the spare, submitted as it was) are not shown twice.
    while len(shown) > 1 and not any(shown[-1].values()):
        shown.pop()
    shown = shown or [segment_form.FormValues()]
    # The spare group: filled, it becomes "OR this".
    if len(shown) < segment_form.MAX_GROUPS:
        shown.append(segment_form.FormValues())
    count = None
    if segment is not None and not errors:
        try:
            count = await segments.count(segment.filter, now=now)
        except DomainError:
            count = None
    return pages.html(
        "console_segment.html",
        {
            "who": who[0],
            "csrf": console.csrf_token(who[1]),
            "local": console.local,
            "segment": segment,
            "name": name or (segment.name if segment else ""),
            "groups": shown,
            "errors": errors or {},
            "error": error,
            "choices": await _choices(now),
            "form": segment_form,
            "labels": labels,
            "count": count,
            "json": msgspec.json.encode(segment.filter).decode() if segment else "",
        },
        status_code=status_code,
        headers={"Content-Security-Policy": SCRIPT_CSP},
    )


def _check(key: str, token: str | None) -> None:
    if not csrf.valid(csrf.console_binding(key), token):
        raise Forbidden("the form is stale or came from another site; reload the page")


def _sample_row(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "card": row.card_number or "",
        "balance": row.balance,
        "last_purchase": console.local(row.last_purchase_at) or "не покупал(а)",
        "rfm": segment_form.rfm_name(row.rfm_group),
    }


class SegmentConsoleController(Controller):
    path = "/console/segments"
    include_in_schema = False

    @get("/new")
    async def new(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await console.signed_in(request)
        if who is None:
            return console.to_login()
        return await _page(who)

    @get("/{segment_id:int}")
    async def edit(self, request: Request[Any, Any, Any], segment_id: PathId) -> Response[Any]:
        who = await console.signed_in(request)
        if who is None:
            return console.to_login()
        segment = await segments.get_segment(segment_id)
        groups = segment_form.values_of(segment.filter)
        return await _page(
            who,
            segment=segment,
            groups=groups,
            error=""
            if groups is not None
            else "Этот сегмент сделан через API: в форме видна "
            "только его часть; сохранение заменит фильтр тем, что в форме.",
        )

    @post("/", status_code=200)
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._save(request, None)

    @post("/{segment_id:int}", status_code=200)
    async def update(self, request: Request[Any, Any, Any], segment_id: PathId) -> Response[Any]:
        return await self._save(request, segment_id)

    async def _save(self, request: Request[Any, Any, Any], segment_id: int | None) -> Response[Any]:
        who = await console.signed_in(request)
        if who is None:
            return console.to_login()
        form = await request.form()
        _check(who[1], form.get("csrf"))
        now = clock.now()
        name = str(form.get("name", "")).strip()
        found = segment_form.read(form, _known(await _choices(now)))
        errors = dict(found.errors)
        if not name:
            errors["name"] = "Назовите сегмент"
        elif len(name) > 200 or not name.isprintable():
            errors["name"] = "Название — одна строка до 200 знаков"
        existing = await segments.get_segment(segment_id) if segment_id else None
        if errors or found.flt is None:
            return await _page(
                who,
                segment=existing,
                name=name,
                groups=found.groups,
                errors=errors,
                error="Сегмент не сохранён: исправьте отмеченные поля",
                status_code=422,
            )
        data = SegmentIn(name=name, filter=found.flt)
        try:
            async with db.write_transaction():
                if segment_id is None:
                    saved = await segments.create_segment(data, actor=who[0].actor, now=now)
                else:
                    saved = await segments.update_segment(segment_id, data, now=now)
        except DomainError as exc:
            return await _page(
                who,
                segment=existing,
                name=name,
                groups=found.groups,
                errors={},
                error=f"Сегмент не сохранён: {exc.message}",
                status_code=422,
            )
        return console.go(f"/console/segments/{saved.id}")

    @post("/{segment_id:int}/delete", status_code=200)
    async def delete(self, request: Request[Any, Any, Any], segment_id: PathId) -> Response[Any]:
        who = await console.signed_in(request)
        if who is None:
            return console.to_login()
        form = await request.form()
        _check(who[1], form.get("csrf"))
        segment = await segments.get_segment(segment_id)
        try:
            async with db.write_transaction():
                await segments.delete_segment(segment_id)
        except segments.SegmentInUse as exc:
            return await _page(
                who,
                segment=segment,
                groups=segment_form.values_of(segment.filter),
                error=_in_use(exc),
                status_code=409,
            )
        return console.go("/console")

    @post("/preview", status_code=200)
    async def preview(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The live count and sample for the form as it is now (the page's script)."""
        who = await console.signed_in(request)
        if who is None:
            return Response({"errors": {"form": "Войдите снова"}}, status_code=401)
        form = await request.form()
        _check(who[1], form.get("csrf"))
        now = clock.now()
        found = segment_form.read(form, _known(await _choices(now)))
        if found.flt is None:
            return Response({"errors": found.errors}, status_code=422)
        try:
            shown = await segments.preview(found.flt, now=now, sample_size=SAMPLE)
        except DomainError as exc:
            return Response({"errors": {"form": exc.message}}, status_code=422)
        return Response(
            {
                "count": shown.count,
                "count_text": f"Подходят: {labels.shoppers(shown.count)}",
                "sample": [_sample_row(row) for row in shown.sample],
                "filter": msgspec.to_builtins(found.flt),
                "errors": {},
            }
        )

    @get("/{segment_id:int}/export")
    async def export(self, request: Request[Any, Any, Any], segment_id: PathId) -> Response[Any]:
        who = await console.signed_in(request)
        if who is None:
            return console.to_login()
        segment = await segments.get_segment(segment_id)
        shown = await segments.preview(segment.filter, now=clock.now(), sample_size=EXPORT_LIMIT)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["Карта", "Имя", "Почта", "Баланс, баллы", "Последняя покупка", "RFM"])
        for row in shown.sample:
            writer.writerow(
                [
                    row.card_number or "",
                    _cell(row.name),
                    _cell(row.email or ""),
                    row.balance,
                    console.local(row.last_purchase_at),
                    segment_form.rfm_name(row.rfm_group),
                ]
            )
        # Shoppers' personal data leaves the system: who took it, and how much, is kept.
        async with db.write_transaction():
            await platform.audit(
                actor=who[0].actor,
                action="segment.export",
                subject=f"segment:{segment_id}",
                details={"rows": len(shown.sample)},
            )
        # Excel opens a UTF-8 CSV with a BOM as UTF-8 (without it, as cp1251).
        return Response(
            "\ufeff" + out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"',
                "Cache-Control": "no-store",
            },
        )

    @get("/form.js")
    async def script(self) -> Response[bytes]:
        if not SCRIPT.exists():
            raise NotFoundException("no script")
        return Response(
            SCRIPT.read_bytes(),
            media_type="application/javascript",
            headers={"Cache-Control": "no-cache"},
        )


def _cell(text: str) -> str:
    # A name starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
