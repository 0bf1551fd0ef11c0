"""The marketers' console: segments with live counts, the campaign editor with previews of
the pass message and the email, scheduling, and each campaign's figures.

Sign-in is with a staff key (role marketer or admin) pasted once into a form; it is kept in
the web layer's staff session cookie (``wallet.web.sessions.STAFF``: HttpOnly,
SameSite=Strict, scoped to /console) and checked on every request like a bearer key (so
revoking the key ends the session). Every form carries a CSRF token bound to the key
(``wallet.web.csrf``, the same scheme as the shopper pages).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import aiosmtplib
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect

from wallet import clock, db
from wallet import settings as settings_module
from wallet.auth import service as auth
from wallet.auth.service import Principal
from wallet.campaigns import (
    automatic,
    campaign_form,
    labels,
    pages,
    rendering,
    segment_form,
    service,
)
from wallet.campaigns.automatic import OCCASIONS
from wallet.errors import CardNotFound, DomainError, Forbidden, InvalidInput, Unauthorized
from wallet.inputs import PathId
from wallet.mail import service as mail
from wallet.segments import service as segments
from wallet.web import csrf, sessions

ROLES = ("marketer", "admin")
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def csrf_token(key: str) -> str:
    return csrf.token(csrf.console_binding(key))


async def _who(request: Request[Any, Any, Any]) -> tuple[Principal, str] | None:
    key = sessions.STAFF.token(request)
    if not key:
        return None
    try:
        found = await auth.authenticate(key)
    except Unauthorized:
        return None
    if found.role not in ROLES:
        return None
    return found, key


# The other console pages (reports, segments) sign in with the same cookie.
signed_in = _who


def _check_csrf(key: str, form: dict[str, str]) -> None:
    if not csrf.valid(csrf.console_binding(key), form.get("csrf")):
        raise Forbidden("the form is stale or came from another site; reload the page")


def _go(url: str) -> Response[Any]:
    return Redirect(url, status_code=303)


def _to_login() -> Response[Any]:
    return _go("/console/login")


def go(url: str) -> Response[Any]:
    return _go(url)


def to_login() -> Response[Any]:
    return _to_login()


def local(moment: datetime | None) -> str:
    return _local(moment)


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(settings_module.get().tz).strftime("%d.%m.%Y %H:%M")


class ConsoleController(Controller):
    path = "/console"
    include_in_schema = False

    @get("/login")
    async def login_page(self) -> Response[str]:
        return pages.html("login.html", {"error": ""})

    @post("/login", status_code=200)
    async def login(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        key = data.get("key", "").strip()
        try:
            found = await auth.authenticate(key)
        except Unauthorized:
            return pages.html("login.html", {"error": "Ключ не подошёл"}, status_code=401)
        if found.role not in ROLES:
            return pages.html(
                "login.html",
                {"error": "Нужен ключ маркетолога или администратора"},
                status_code=403,
            )
        response: Response[Any] = _go("/console")
        sessions.STAFF.set(response, request, key)
        return response

    @post("/logout", status_code=200)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        response: Response[Any] = _go("/console/login")
        sessions.STAFF.clear(response, request)
        return response

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        now = clock.now()
        saved = await segments.list_segments()
        counts = await segments.counts(saved, now=now)
        return pages.html(
            "console_home.html",
            {
                "who": who[0],
                "csrf": csrf_token(who[1]),
                "segments": saved,
                "counts": counts,
                "campaigns": await service.list_campaigns(),
                "rfm": await segments.rfm_groups(),
                "labels": labels,
                "rfm_name": segment_form.rfm_name,
                "local": _local,
                "error": request.query_params.get("error", ""),
            },
        )

    @get("/automatic")
    async def automatic_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        found = {c.kind: c for c in await service.list_campaigns() if c.kind in OCCASIONS}
        return pages.html(
            "console_automatic.html",
            {
                **_page_context(who),
                "occasions": [(kind, OCCASIONS[kind], found.get(kind)) for kind in OCCASIONS],
            },
        )

    @post("/automatic/{kind:str}/{action:str}", status_code=200)
    async def automatic_switch(
        self,
        request: Request[Any, Any, Any],
        kind: FromPath[str],
        action: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        """Switch a welcome or birthday message on (made with its default texts the first
        time) or off."""
        who = await _who(request)
        if who is None:
            return _to_login()
        _check_csrf(who[1], data)
        if kind not in OCCASIONS or action not in ("on", "off"):
            return _go("/console/automatic")
        now = clock.now()
        async with db.write_transaction():
            if action == "on":
                await automatic.enable(kind, actor=who[0].actor, now=now)
            else:
                found = [
                    c for c in await service.list_campaigns(kind=kind) if c.status == "sending"
                ]
                for campaign in found:
                    await service.cancel(campaign.id, actor=who[0].actor, now=now)
        return _go("/console/automatic")

    @get("/campaigns/new")
    async def new_campaign(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        return await _editor(who)

    @post("/campaigns", status_code=200)
    async def create_campaign(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        _check_csrf(who[1], data)
        saved = await segments.list_segments()
        found, errors, values = campaign_form.read(data, segment_ids={s.id for s in saved})
        if found is None:
            return await _editor(who, values=values, field_errors=errors, status_code=422)
        try:
            async with db.write_transaction():
                created = await service.create_campaign(found, actor=who[0].actor, now=clock.now())
        except DomainError as exc:
            return await _editor(
                who, values=values, error=_russian(exc), status_code=exc.status_code
            )
        return _go(f"/console/campaigns/{created.id}")

    @get("/campaigns/{campaign_id:int}")
    async def campaign_page(
        self, request: Request[Any, Any, Any], campaign_id: PathId
    ) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        return await _campaign_page(
            who,
            campaign_id,
            error=request.query_params.get("error", ""),
            tested=request.query_params.get("tested", ""),
        )

    @post("/campaigns/{campaign_id:int}/{action:str}", status_code=200)
    async def campaign_action(
        self,
        request: Request[Any, Any, Any],
        campaign_id: PathId,
        action: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        _check_csrf(who[1], data)
        now = clock.now()
        actor = who[0].actor
        target = f"/console/campaigns/{campaign_id}"
        if action == "send" and data.get("confirmed") != "1":
            # Nothing goes before the marketer has seen how many shoppers get it.
            return await _confirm_page(who, campaign_id)
        typed = data.get("at", "").strip()
        if action == "test":
            return await _test_send(who, campaign_id, data)
        try:
            if action == "schedule":
                at = _moment(typed)
                async with db.write_transaction():
                    await service.schedule(campaign_id, at, actor=actor, now=now)
            else:
                async with db.write_transaction():
                    if action == "save":
                        saved = await segments.list_segments()
                        found, errors, values = campaign_form.read(
                            data, segment_ids={x.id for x in saved}
                        )
                        if found is None:
                            return await _campaign_page(
                                who,
                                campaign_id,
                                field_errors=errors,
                                values=values,
                                error="Кампания не сохранена: исправьте отмеченные поля",
                                status_code=422,
                            )
                        await service.update_campaign(campaign_id, found, now=now)
                    elif action == "send":
                        await service.send_now(campaign_id, actor=actor, now=now)
                    elif action == "cancel":
                        await service.cancel(campaign_id, actor=actor, now=now)
                    elif action == "copy":
                        copied = await service.copy_campaign(campaign_id, actor=actor, now=now)
                        target = f"/console/campaigns/{copied.id}"
        except (service.ScheduledInThePast, _NoMoment) as exc:
            return await _campaign_page(
                who,
                campaign_id,
                field_errors={"at": exc.message},
                typed={"at": typed},
                status_code=422,
            )
        except (DomainError, ValueError) as exc:
            message = _russian(exc) if isinstance(exc, DomainError) else str(exc)
            return _go(f"{target}?error={_quote(message)}")
        return _go(target)


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
_CARD = re.compile(r"^[0-9]{16}$")


async def _test_send(
    who: tuple[Principal, str], campaign_id: int, data: dict[str, str]
) -> Response[Any]:
    """The test send's form: a wrong address or card is said beside its field with what
    was typed kept; what went, and where, is said once it went."""
    typed = {key: data.get(key, "").strip() for key in ("email", "card_number")}
    email, card = typed["email"], typed["card_number"].replace(" ", "")
    errors: dict[str, str] = {}
    if not email and not card:
        errors["email"] = "Укажите адрес почты или номер карты, куда отправить тест"
    if email and not _EMAIL.match(email):
        errors["email"] = "Адрес почты пишется так: name@example.ru"
    if card and not _CARD.match(card):
        errors["card_number"] = "Номер карты — 16 цифр"
    sent: list[str] = []
    if not errors:
        try:
            sent = await service.test_send(
                campaign_id,
                email=email or None,
                card_number=card or None,
                actor=who[0].actor,
                now=clock.now(),
            )
        except CardNotFound:
            errors["card_number"] = "Карты с таким номером нет"
        except aiosmtplib.SMTPRecipientsRefused:
            errors["email"] = "Почтовый сервер не принял этот адрес"
        except (aiosmtplib.SMTPException, OSError):
            errors["email"] = "Почтовый сервер сейчас недоступен: попробуйте позже"
        else:
            if not sent:
                errors["card_number"] = (
                    "Этому покупателю нечего отправить: у него нет адреса почты, "
                    "а сообщения на карте в кампании нет"
                )
    if errors:
        return await _campaign_page(
            who, campaign_id, field_errors=errors, typed=typed, status_code=422
        )
    where = ", ".join(
        f"письмо на {target}" if kind == "email" else f"сообщение на карту {target}"
        for kind, _, target in (item.partition(":") for item in sent)
    )
    return _go(f"/console/campaigns/{campaign_id}?tested={_quote(where)}")


class _NoMoment(InvalidInput):
    pass


def _moment(typed: str) -> datetime:
    """The ``datetime-local`` field's value, in the program's zone."""
    try:
        return datetime.fromisoformat(typed)
    except ValueError:
        raise _NoMoment("Укажите дату и время отправки", {"field": "at"}) from None


def _values_of(campaign: Any) -> dict[str, Any]:
    """The editor's fields: a new campaign's defaults, or the campaign as saved."""
    if campaign is None:
        return {
            "name": "",
            "channels": ["email"],
            "segment_id": "",
            "template": "campaign_default",
            "subject": "",
            "body": "",
            "push_header": "",
            "push_text": "",
            "email_rate": "0",
            "push_rate": "0",
            "holdout_percent": "0",
        }
    return {
        "name": campaign.name,
        "channels": list(campaign.channels),
        "segment_id": str(campaign.segment_id or ""),
        "template": campaign.template,
        "subject": campaign.subject,
        "body": campaign.body,
        "push_header": campaign.push_header,
        "push_text": campaign.push_text,
        "email_rate": str(campaign.email_rate),
        "push_rate": str(campaign.push_rate),
        "holdout_percent": f"{campaign.holdout_bp / 100:g}",
    }


def _russian(exc: DomainError) -> str:
    """A service's refusal as the console says it (the API's messages are for developers)."""
    said = {
        "campaign_not_editable": "Эту кампанию уже нельзя изменить: её можно скопировать",
        "segment_not_found": "Такого сегмента больше нет: выберите другой",
        "store_not_found": "В сегменте указан магазин, которого нет",
    }
    return said.get(exc.code, exc.message)


async def _editor(
    who: tuple[Principal, str],
    *,
    values: dict[str, Any] | None = None,
    field_errors: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response[Any]:
    """The editor of a campaign not saved yet."""
    return pages.html(
        "console_campaign.html",
        {
            **_page_context(who),
            "campaign": None,
            "preview": None,
            "segments": await segments.list_segments(),
            "error": error
            or ("Кампания не сохранена: исправьте отмеченные поля" if field_errors else ""),
            "field_errors": field_errors or {},
            "typed": {},
            "values": values or _values_of(None),
            "templates": campaign_form.templates(),
            "samples": template_samples(values or _values_of(None)),
        },
        status_code=status_code,
    )


_SAMPLE_SUBJECT = "Тема письма"
_SAMPLE_BODY = "Здесь будет текст письма."


def template_samples(values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(code, name, HTML) of every email template around the form's text (a stand-in where
    it has none or it does not render yet) for a made-up shopper: the marketer sees each
    template before picking it from the list."""
    context = rendering.context_of(None, 0)
    found = []
    for code, title in campaign_form.templates():
        camp = {
            "id": 0,
            "name": values.get("name") or "",
            "template": code,
            "subject": values.get("subject") or _SAMPLE_SUBJECT,
            "body": values.get("body") or _SAMPLE_BODY,
        }
        try:
            _subject, html, _text = rendering.render_email(camp, context, lang="ru")
        except InvalidInput:
            camp.update(subject=_SAMPLE_SUBJECT, body=_SAMPLE_BODY)
            _subject, html, _text = rendering.render_email(camp, context, lang="ru")
        found.append((code, title, mail.viewable(html)))
    return found


def _page_context(who: tuple[Principal, str]) -> dict[str, Any]:
    """What every console page's template reads: the caller, the form token, the words."""
    return {
        "who": who[0],
        "csrf": csrf_token(who[1]),
        "local": _local,
        "labels": labels,
    }


async def _campaign_page(
    who: tuple[Principal, str],
    campaign_id: int,
    *,
    error: str = "",
    field_errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    tested: str = "",
    status_code: int = 200,
) -> Response[Any]:
    campaign = await service.get_campaign(campaign_id)
    preview = None
    now = clock.now()
    try:
        preview = await service.preview(campaign_id, now=now)
    except DomainError as exc:
        error = error or _russian(exc)
    tz = settings_module.get().tz
    return pages.html(
        "console_campaign.html",
        {
            **_page_context(who),
            "campaign": campaign,
            "preview": preview,
            "segments": await segments.list_segments(),
            "error": error,
            "field_errors": field_errors or {},
            "typed": typed or {},
            "values": values or _values_of(campaign),
            "templates": campaign_form.templates(),
            "samples": template_samples(values or _values_of(campaign)),
            "zone": labels.zone(tz, now),
            "tested": tested,
        },
        status_code=status_code,
    )


async def _confirm_page(who: tuple[Principal, str], campaign_id: int) -> Response[Any]:
    campaign = await service.get_campaign(campaign_id)
    if campaign.status not in ("draft", "scheduled"):
        return _go(f"/console/campaigns/{campaign_id}")
    preview = await service.preview(campaign_id, now=clock.now())
    return pages.html(
        "console_confirm.html",
        {**_page_context(who), "campaign": campaign, "preview": preview},
    )


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:300])
