"""The Litestar application: every domain's controllers, one error format, the manual at
``/schema``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, Response, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme, Tag

from wallet import db, monitoring, observe, wiring
from wallet import runtime as runtime_module
from wallet import settings as settings_module
from wallet.accruals.api import AccrualsController
from wallet.auth.api import KeysController
from wallet.auth.staff import console_staff
from wallet.bonuses.api import BonusesAdminController, MyReferralController
from wallet.campaigns.api import CampaignsController, UnsubscribeController
from wallet.campaigns.clicks import ClickController
from wallet.campaigns.console import ConsoleController
from wallet.campaigns.segment_console import SegmentConsoleController
from wallet.errors import EXCEPTION_HANDLERS
from wallet.http import security_headers
from wallet.imports.api import ImportsController
from wallet.koshelek.api import KoshelekController
from wallet.ledger.api import AdjustmentsController
from wallet.members.api import AdminCardsController
from wallet.offers.api import MyOffersController, OffersAdminController
from wallet.openapi import CompletedJson, OfflineSwagger
from wallet.pages.controllers import PagesController
from wallet.pages.my_data import MyDataPageController
from wallet.pages.pwa import CardAppController
from wallet.pages.render import not_found_page
from wallet.passsync.api import PassKitController, PassLinksController
from wallet.plastic.api import PlasticController
from wallet.platform.worker import run_forever
from wallet.privacy.api import MyDataController, SupportPrivacyController
from wallet.promotions.api import PromotionsAdminController
from wallet.promotions.console import PromotionsConsoleController
from wallet.receipts.api import PosController
from wallet.reports.api import ReportsController
from wallet.reports.console import ReportsConsoleController
from wallet.rules.api import RulesController
from wallet.runtime import Runtime
from wallet.segments.api import SegmentsController
from wallet.shopper.api import MeController, SupportAccountController
from wallet.signin.api import EnrolController, SignInController
from wallet.signin.lookup import LookupController
from wallet.sms import smpp
from wallet.stores.api import StoresController
from wallet.till.api import TillApiController
from wallet.till.pages import TillPagesController
from wallet.webhooks.api import WebhooksController


class Health(msgspec.Struct, frozen=True):
    status: str


@get(
    "/health", operation_id="health", summary="The process is up", tags=["operations"], security=[]
)
async def health() -> Health:
    return Health(status="ok")


@get(
    "/ready",
    operation_id="ready",
    summary="The database answers and the worker keeps up",
    tags=["operations"],
    security=[],
    responses={
        503: ResponseSpec(
            Health,
            description="The database does not answer, or the oldest due outbox job has "
            "waited longer than WALLET_READY_MAX_LAG_SECONDS",
        )
    },
)
async def ready(runtime: NamedDependency[Runtime]) -> Response[Health]:
    if not await db.ping(runtime.engine):
        return Response(Health(status="database unreachable"), status_code=503)
    lag = await monitoring.worker_lagging()
    if lag is not None:
        limit = runtime.settings.ready_max_lag_seconds
        return Response(
            Health(
                status=f"worker lagging: the oldest due job has waited {int(lag)} s "
                f"(over WALLET_READY_MAX_LAG_SECONDS={limit})"
            ),
            status_code=503,
        )
    return Response(Health(status="ready"))


DESCRIPTION = """\
Loyalty cards, a points ledger right to the last point, and the tills that post receipts.

Every call except enrolment and health takes `Authorization: Bearer <key or token>`:
till keys (role `pos`, bound to a store), staff keys (`support`, `marketer`, `admin`) made
with `wallet keys create`, and shopper tokens returned by enrolment.

Errors are JSON `{"code", "message", "details"}` with a stable `code`. Money is integer
kopecks, points are integers. Receipts and returns are idempotent on their ids; other
writes on the `Idempotency-Key` header. A body over the server's limit (1 MB by default,
`WALLET_MAX_BODY_BYTES`) is answered 413 `request_too_large` on every route.
"""


def runtime_lifespan(
    settings: settings_module.Settings, *, embedded_worker: bool
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the runtime (engine, clients, caches, events) is built as the app
    starts and closed as it stops; the embedded default runs the outbox worker inside it."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with wiring.running(settings):
            if not embedded_worker:
                yield
                return
            stop = asyncio.Event()
            worker = asyncio.create_task(run_forever(stop), name="outbox-worker")
            try:
                yield
            finally:
                stop.set()
                await worker
                await smpp.close()  # unbind from the SMSC rather than drop the session

    return lifespan


def create_app(
    *,
    manage_db: bool = True,
    settings: settings_module.Settings | None = None,
    extra_handlers: list[Any] | None = None,
) -> Litestar:
    """The app; ``manage_db=False`` leaves the runtime to the caller (the tests build one
    per test)."""
    cfg = settings or settings_module.get()
    lifespan = [runtime_lifespan(cfg, embedded_worker=cfg.embedded_worker)] if manage_db else []
    handlers: list[Any] = [
        health,
        ready,
        EnrolController,
        SignInController,
        LookupController,
        MeController,
        PosController,
        AdminCardsController,
        ImportsController,
        SupportAccountController,
        AdjustmentsController,
        RulesController,
        StoresController,
        OffersAdminController,
        PromotionsAdminController,
        MyOffersController,
        PagesController,
        CardAppController,
        MyDataPageController,
        PlasticController,
        PassKitController,
        PassLinksController,
        SegmentsController,
        CampaignsController,
        UnsubscribeController,
        ClickController,
        ConsoleController,
        SegmentConsoleController,
        ReportsController,
        ReportsConsoleController,
        PromotionsConsoleController,
        AccrualsController,
        WebhooksController,
        KeysController,
        BonusesAdminController,
        MyReferralController,
        MyDataController,
        SupportPrivacyController,
        KoshelekController,
        TillPagesController,
        TillApiController,
        monitoring.MetricsController,
        *(extra_handlers or []),
    ]
    return Litestar(
        route_handlers=handlers,
        # A browser's mistyped address gets a page (wallet.pages.render.not_found_page).
        exception_handlers={**EXCEPTION_HANDLERS, NotFoundException: not_found_page},
        before_send=[security_headers],
        lifespan=lifespan,
        # Handlers that need the runtime take it as a parameter named ``runtime``.
        dependencies={
            "runtime": Provide(runtime_module.current, sync_to_thread=False),
            # Console pages take the signed-in member of staff (or None) as ``staff``.
            "staff": Provide(console_staff),
        },
        middleware=[monitoring.middleware],
        openapi_config=OpenAPIConfig(
            title="Loyalty wallet",
            version="1.0",
            description=DESCRIPTION,
            path="/schema",
            render_plugins=[OfflineSwagger(path=["/", "/swagger"]), CompletedJson()],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http", scheme="bearer", description="key or shopper token"
                    )
                }
            ),
            security=[{"bearer": []}],
            tags=[
                Tag(name="shopper", description="A shopper's own card and points"),
                Tag(name="till (POS)", description="Identify, quote, receipts and returns"),
                Tag(name="support: cards and accounts", description="Support staff tools"),
                Tag(name="admin: program rules", description="Earning and spending rules"),
                Tag(name="admin: stores", description="The chain's stores"),
                Tag(name="admin: offers", description="Smart-goal cashback offers"),
                Tag(
                    name="admin: accruals",
                    description="Bulk and scheduled credits and debits of a segment",
                ),
                Tag(
                    name="admin: webhooks",
                    description="HTTPS endpoints told of events, signed; delivery log, replay",
                ),
                Tag(name="admin: keys", description="Staff and till keys: list, revoke"),
                Tag(name="operations", description="Health checks"),
            ],
        ),
        logging_config=logging_config(cfg.log_level, cfg.log_format),
        # A bigger body is refused with 413 before it is read whole (Content-Length) or
        # as soon as it grows past the limit (chunked).
        request_max_body_size=cfg.max_body_bytes,
        debug=False,
    )


def logging_config(level: str, log_format: str = "text") -> LoggingConfig:
    """``WALLET_LOG_LEVEL`` for the app's loggers (``wallet.*``, through the root) and
    Litestar's. Litestar replaces the root logger's setup when the app is built, at INFO
    unless told, so a level set before (``logging.basicConfig``) never reached them.
    DEBUG is for our own loggers: the drivers' (aiosqlite logs every query) stay at INFO.
    ``WALLET_LOG_FORMAT`` picks text lines or JSON objects; both carry the request id."""
    observe.install_record_factory()
    return LoggingConfig(
        root={"level": "INFO" if level == "DEBUG" else level, "handlers": ["queue_listener"]},
        formatters={"standard": observe.formatter_config(log_format)},
        loggers={
            "wallet": {"level": level},
            "piccolo": {"level": "WARNING" if level in ("DEBUG", "INFO") else level},
            # httpx logs every URL it calls at INFO: an APNs URL ends in a device's push
            # token, a Google one in a pass object's id.
            "httpx": {"level": "WARNING" if level in ("DEBUG", "INFO") else level},
            "litestar": {"level": level, "handlers": ["queue_listener"], "propagate": False},
        },
    )
