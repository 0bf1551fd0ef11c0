"""The Litestar application: every domain's controllers, one error format, the manual at
``/schema``."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Litestar, Response, get
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme, Tag

from wallet import db, wiring
from wallet import settings as settings_module
from wallet.auth.api import KeysController
from wallet.bonuses.api import BonusesAdminController, MyReferralController
from wallet.campaigns.api import CampaignsController, UnsubscribeController
from wallet.campaigns.console import ConsoleController
from wallet.errors import EXCEPTION_HANDLERS
from wallet.http import security_headers
from wallet.koshelek.api import KoshelekController
from wallet.ledger.api import AdjustmentsController
from wallet.members.api import AdminCardsController, MeController
from wallet.offers.api import MyOffersController, OffersAdminController
from wallet.openapi import CompletedJson, OfflineSwagger
from wallet.pages.controllers import PagesController
from wallet.pages.my_data import MyDataPageController
from wallet.passsync.api import PassKitController, PassLinksController
from wallet.plastic.api import PlasticController
from wallet.platform.worker import run_forever
from wallet.privacy.api import MyDataController, SupportPrivacyController
from wallet.promotions.api import PromotionsAdminController
from wallet.receipts.api import PosController
from wallet.reports.api import ReportsController
from wallet.reports.console import ReportsConsoleController
from wallet.rules.api import RulesController
from wallet.segments.api import SegmentsController
from wallet.signin.api import EnrolController
from wallet.stores.api import StoresController


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
    summary="The database answers",
    tags=["operations"],
    security=[],
    responses={503: ResponseSpec(Health, description="The database does not answer")},
)
async def ready() -> Response[Health]:
    if await db.ping():
        return Response(Health(status="ready"))
    return Response(Health(status="database unreachable"), status_code=503)


DESCRIPTION = """\
Loyalty cards, a points ledger right to the last point, and the tills that post receipts.

Every call except enrolment and health takes `Authorization: Bearer <key or token>`:
till keys (role `pos`, bound to a store), staff keys (`support`, `marketer`, `admin`) made
with `wallet keys create`, and shopper tokens returned by enrolment.

Errors are JSON `{"code", "message", "details"}` with a stable `code`. Money is integer
kopecks, points are integers. Receipts and returns are idempotent on their ids; other
writes on the `Idempotency-Key` header.
"""


_worker_stop = asyncio.Event()
_worker_task: asyncio.Task[None] | None = None


async def _start_worker() -> None:
    """The embedded default runs the outbox worker inside the app process."""
    global _worker_task
    _worker_stop.clear()
    _worker_task = asyncio.create_task(run_forever(_worker_stop), name="outbox-worker")


async def _stop_worker() -> None:
    _worker_stop.set()
    if _worker_task is not None:
        await _worker_task


def create_app(*, manage_db: bool = True, extra_handlers: list[Any] | None = None) -> Litestar:
    """The app; ``manage_db=False`` leaves the engine's pool to the caller (tests)."""
    cfg = settings_module.get()
    wiring.connect()
    startup: list[Any] = [db.start] if manage_db else []
    shutdown: list[Any] = []
    if manage_db and cfg.embedded_worker:
        startup.append(_start_worker)
        shutdown.append(_stop_worker)
    if manage_db:
        shutdown.append(db.stop)
    handlers: list[Any] = [
        health,
        ready,
        EnrolController,
        MeController,
        PosController,
        AdminCardsController,
        AdjustmentsController,
        RulesController,
        StoresController,
        OffersAdminController,
        PromotionsAdminController,
        MyOffersController,
        PagesController,
        MyDataPageController,
        PlasticController,
        PassKitController,
        PassLinksController,
        SegmentsController,
        CampaignsController,
        UnsubscribeController,
        ConsoleController,
        ReportsController,
        ReportsConsoleController,
        KeysController,
        BonusesAdminController,
        MyReferralController,
        MyDataController,
        SupportPrivacyController,
        KoshelekController,
        *(extra_handlers or []),
    ]
    return Litestar(
        route_handlers=handlers,
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[security_headers],
        on_startup=startup,
        on_shutdown=shutdown,
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
                Tag(name="admin: keys", description="Staff and till keys: list, revoke"),
                Tag(name="operations", description="Health checks"),
            ],
        ),
        logging_config=logging_config(cfg.log_level),
        debug=False,
    )


def logging_config(level: str) -> LoggingConfig:
    """``WALLET_LOG_LEVEL`` for the app's loggers (``wallet.*``, through the root) and
    Litestar's. Litestar replaces the root logger's setup when the app is built, at INFO
    unless told, so a level set before (``logging.basicConfig``) never reached them.
    DEBUG is for our own loggers: the drivers' (aiosqlite logs every query) stay at INFO."""
    return LoggingConfig(
        root={"level": "INFO" if level == "DEBUG" else level, "handlers": ["queue_listener"]},
        formatters={"standard": {"format": settings_module.LOG_FORMAT}},
        loggers={
            "wallet": {"level": level},
            "piccolo": {"level": "WARNING" if level in ("DEBUG", "INFO") else level},
            "litestar": {"level": level, "handlers": ["queue_listener"], "propagate": False},
        },
    )
