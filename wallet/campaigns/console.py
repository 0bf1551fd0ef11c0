"""The marketers' console: segments with live counts, the campaign editor with previews of
the pass message and the email, scheduling, and each campaign's figures.

Sign-in is with a staff key (role marketer or admin) pasted once into a form; it is kept in
the web layer's staff session cookie (``wallet.web.sessions.STAFF``: HttpOnly,
SameSite=Strict, scoped to /console) and checked on every request like a bearer key (so
revoking the key ends the session). Every form carries a CSRF token bound to the key
(``wallet.web.csrf``, the same scheme as the shopper pages).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect

from wallet import clock, db
from wallet import settings as settings_module
from wallet.auth import service as auth
from wallet.auth.service import Principal
from wallet.campaigns import pages, service
from wallet.campaigns.schemas import CampaignIn
from wallet.errors import DomainError, Forbidden, Unauthorized
from wallet.inputs import PathId, parse_id
from wallet.segments import service as segments
from wallet.segments.schemas import SegmentFilter, SegmentIn
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


# The other console pages (reports) sign in with the same cookie.
signed_in = _who


def _check_csrf(key: str, form: dict[str, str]) -> None:
    if not csrf.valid(csrf.console_binding(key), form.get("csrf")):
        raise Forbidden("the form is stale or came from another site; reload the page")


def _go(url: str) -> Response[Any]:
    return Redirect(url, status_code=303)


def _to_login() -> Response[Any]:
    return _go("/console/login")


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(settings_module.get().tz).strftime("%d.%m.%Y %H:%M")


def _campaign_in(form: dict[str, str]) -> CampaignIn:
    channels = [c for c in ("email", "push") if form.get(f"channel_{c}")] or ["email"]
    raw = {
        "name": form.get("name", "").strip(),
        "channels": channels,
        "segment_id": parse_id(form.get("segment_id"), "segment_id"),
        "template": form.get("template", "campaign_default").strip() or "campaign_default",
        "subject": form.get("subject", ""),
        "body": form.get("body", "").replace("\r\n", "\n"),
        "push_header": form.get("push_header", ""),
        "push_text": form.get("push_text", ""),
        # Strings from the form: the schema reads the numbers (and refuses "abc").
        "email_rate": form.get("email_rate", "").strip() or 0,
        "push_rate": form.get("push_rate", "").strip() or 0,
    }
    try:
        # The control group is asked in percent (10 = 10%), kept in basis points.
        raw["holdout_bp"] = round(float(form.get("holdout_percent", "").strip() or 0) * 100)
        return msgspec.convert(raw, CampaignIn, strict=False)
    except (msgspec.ValidationError, ValueError, OverflowError) as exc:
        from wallet.errors import InvalidInput

        raise InvalidInput(str(exc)) from exc


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
                "filters": {s.id: msgspec.json.encode(s.filter).decode() for s in saved},
                "campaigns": await service.list_campaigns(),
                "rfm": await segments.rfm_groups(),
                "local": _local,
                "error": request.query_params.get("error", ""),
            },
        )

    @post("/segments", status_code=200)
    async def create_segment(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        _check_csrf(who[1], data)
        try:
            flt = msgspec.json.decode(data.get("filter", "") or "{}", type=SegmentFilter)
            # convert, not the constructor: the constructor checks no constraints.
            segment = msgspec.convert(
                {"name": data.get("name", "").strip() or "Сегмент", "filter": flt}, SegmentIn
            )
            async with db.write_transaction():
                await segments.create_segment(
                    segment,
                    actor=who[0].actor,
                    now=clock.now(),
                )
        except (msgspec.ValidationError, msgspec.DecodeError, DomainError) as exc:
            return _go(f"/console?error={_quote(str(exc))}")
        except RecursionError:
            return _go(f"/console?error={_quote('the filter is nested too deeply')}")
        return _go("/console")

    @get("/campaigns/new")
    async def new_campaign(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        return pages.html(
            "console_campaign.html",
            {
                "who": who[0],
                "csrf": csrf_token(who[1]),
                "campaign": None,
                "preview": None,
                "segments": await segments.list_segments(),
                "local": _local,
                "error": "",
            },
        )

    @post("/campaigns", status_code=200)
    async def create_campaign(self, request: Request[Any, Any, Any], data: Form) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        _check_csrf(who[1], data)
        try:
            async with db.write_transaction():
                created = await service.create_campaign(
                    _campaign_in(data), actor=who[0].actor, now=clock.now()
                )
        except DomainError as exc:
            return pages.html(
                "console_campaign.html",
                {
                    "who": who[0],
                    "csrf": csrf_token(who[1]),
                    "campaign": None,
                    "preview": None,
                    "segments": await segments.list_segments(),
                    "local": _local,
                    "error": exc.message,
                },
                status_code=422,
            )
        return _go(f"/console/campaigns/{created.id}")

    @get("/campaigns/{campaign_id:int}")
    async def campaign_page(
        self, request: Request[Any, Any, Any], campaign_id: PathId
    ) -> Response[Any]:
        who = await _who(request)
        if who is None:
            return _to_login()
        campaign = await service.get_campaign(campaign_id)
        preview = None
        error = request.query_params.get("error", "")
        try:
            preview = await service.preview(campaign_id, now=clock.now())
        except DomainError as exc:
            error = error or exc.message
        return pages.html(
            "console_campaign.html",
            {
                "who": who[0],
                "csrf": csrf_token(who[1]),
                "campaign": campaign,
                "preview": preview,
                "segments": await segments.list_segments(),
                "local": _local,
                "error": error,
            },
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
        try:
            if action == "test":
                await service.test_send(
                    campaign_id,
                    email=data.get("email") or None,
                    card_number=data.get("card_number") or None,
                    actor=actor,
                    now=now,
                )
            else:
                async with db.write_transaction():
                    if action == "save":
                        await service.update_campaign(campaign_id, _campaign_in(data), now=now)
                    elif action == "schedule":
                        at = datetime.fromisoformat(data.get("at", ""))
                        await service.schedule(campaign_id, at, actor=actor, now=now)
                    elif action == "send":
                        await service.schedule(campaign_id, now, actor=actor, now=now)
                    elif action == "cancel":
                        await service.cancel(campaign_id, actor=actor, now=now)
                    else:
                        return _go(f"/console/campaigns/{campaign_id}")
        except (DomainError, ValueError) as exc:
            message = exc.message if isinstance(exc, DomainError) else str(exc)
            return _go(f"/console/campaigns/{campaign_id}?error={_quote(message)}")
        return _go(f"/console/campaigns/{campaign_id}")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:300])
