"""The web service «Кошелёк» calls: the partner side of its Loyalty Online API.

This is Кошелёк's protocol, not our API: it is left out of our OpenAPI document (README
describes it), answers in Кошелёк's shape (422 ``{"code","description"}``, every field a
string, ``application/json; charset=utf-8``) and is closed (404) until the chain sets
``WALLET_KOSHELEK_LOGIN`` and ``WALLET_KOSHELEK_PASSWORD``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath

from wallet import clock, db
from wallet import settings as settings_module
from wallet.errors import DomainError, NotFound
from wallet.koshelek import protocol, push, service

log = logging.getLogger("wallet.koshelek")


def _reply(body: bytes, status: int = 200) -> Response[bytes]:
    return Response(content=body, status_code=status, media_type=protocol.CONTENT_TYPE)


def _refuse(reason: str, detail: str = "", status: int = protocol.ERROR_STATUS) -> Response[bytes]:
    return _reply(protocol.error_body(reason, detail), status)


def _credentials_match(header: str | None) -> bool:
    cfg = settings_module.get()
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        login, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return False
    # Both compared whatever the first gives, so the time tells nothing of either.
    login_ok = hmac.compare_digest(login, cfg.koshelek_login.encode())
    password_ok = hmac.compare_digest(password, cfg.koshelek_password.encode())
    return login_ok and password_ok


async def _serve(
    request: Request[Any, Any, Any], work: Callable[[], Awaitable[Response[bytes]]]
) -> Response[bytes]:
    cfg = settings_module.get()
    if not (cfg.koshelek_login and cfg.koshelek_password):
        # Off: nothing here exists for anyone (our own 404 body, not Кошелёк's).
        raise NotFound("not found")
    if not _credentials_match(request.headers.get("authorization")):
        response = _refuse("unauthorized", status=401)
        response.headers["WWW-Authenticate"] = 'Basic realm="koshelek", charset="UTF-8"'
        return response
    try:
        return await work()
    except service.Refusal as exc:
        return _refuse(exc.reason, exc.detail)
    except msgspec.DecodeError as exc:
        return _refuse("bad_request", str(exc)[:200])
    except DomainError as exc:
        return _refuse("bad_request", exc.message[:200])
    except Exception:
        log.exception("koshelek: %s %s failed", request.method, request.url.path)
        return _refuse("internal")


def _card(found: service.Found) -> Response[bytes]:
    return _reply(
        protocol.card_reply(
            number=found.card.number,
            active=found.active,
            barcode_type=settings_module.get().koshelek_barcode,
        )
    )


class KoshelekController(Controller):
    path = protocol.PREFIX
    include_in_schema = False

    @get(protocol.CARD)
    async def search(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        async def work() -> Response[bytes]:
            query = request.query_params
            found = await service.search(
                msisdn=protocol.msisdn_of(query.get(protocol.SEARCH_MSISDN)),
                email=(query.get(protocol.SEARCH_EMAIL) or "").strip() or None,
                birthday=protocol.date_of(query.get(protocol.SEARCH_BIRTH_DATE)),
            )
            # Not found is a 200 with an empty body, as the protocol says.
            return _reply(b"") if found is None else _card(found)

        return await _serve(request, work)

    @post(protocol.ANONYMOUS_ISSUE, status_code=200)
    async def issue(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        async def work() -> Response[bytes]:
            data = msgspec.json.decode(await request.body(), type=protocol.IssueRequest)
            async with db.write_transaction():
                found = await service.issue(data, now=clock.now())
            return _card(found)

        return await _serve(request, work)

    @put(protocol.COMMUNICATION, status_code=200)
    async def communication(
        self, request: Request[Any, Any, Any], card_number: FromPath[str]
    ) -> Response[bytes]:
        async def work() -> Response[bytes]:
            data = msgspec.json.decode(await request.body(), type=protocol.Communication)
            async with db.write_transaction():
                await service.set_channels(card_number, data, now=clock.now())
            return _reply(b"{}")

        return await _serve(request, work)

    @post(protocol.PROMO_CODE, status_code=200)
    async def promo_code(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        async def work() -> Response[bytes]:
            raw = await request.body()
            await service.redeem_promo_code(
                msgspec.json.decode(raw or b"{}", type=protocol.PromoCode), now=clock.now()
            )
            return _reply(b"{}")

        return await _serve(request, work)

    @get(protocol.ALL_USERS)
    async def all_users(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        async def work() -> Response[bytes]:
            return _reply(await service.list_users(extended=False))

        return await _serve(request, work)

    @get(protocol.ALL_USERS_EXTENDED)
    async def all_users_extended(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        async def work() -> Response[bytes]:
            return _reply(await service.list_users(extended=True))

        return await _serve(request, work)

    @post(protocol.PUSH_CALLBACK, status_code=200)
    async def push_callback(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        async def work() -> Response[bytes]:
            raw = await request.body()
            # ASSUMED shape (protocol.PushStatus): one status or a list of them.
            decoded = msgspec.json.decode(raw)
            items = decoded if isinstance(decoded, list) else [decoded]
            statuses = [msgspec.convert(item, protocol.PushStatus) for item in items]
            async with db.write_transaction():
                for status in statuses:
                    await push.record_status(status.messageId, status.state, now=clock.now())
            return _reply(b"{}")

        return await _serve(request, work)
