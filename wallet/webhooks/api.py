"""Webhooks over HTTP (admins): register, list, enable and disable endpoints; their
delivery log and a replay. The sending itself is the worker's (``delivery.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from wallet import clock
from wallet.auth.guards import allow
from wallet.http import errors, principal
from wallet.inputs import INT64_MAX, PathId, QueryJournalId
from wallet.webhooks import service
from wallet.webhooks.schemas import (
    DeliveryOut,
    DeliveryStatus,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)

DeliveryId = Annotated[int, PathParameter(ge=1, le=INT64_MAX)]

SIGNING = (
    "Each delivery is a POST of the event's JSON (`id`, `type`, `created_at`, `data`) with "
    "`X-Wallet-Event-Id`, `X-Wallet-Event-Type`, `X-Wallet-Timestamp` (Unix seconds) and "
    '`X-Wallet-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>`.'
)


class WebhooksController(Controller):
    path = "/api/v1/admin/webhooks"
    tags = ["admin: webhooks"]
    guards = [allow("admin")]

    @post(
        operation_id="createWebhook",
        summary="Register an HTTPS endpoint for events; its signing secret is shown once",
        description=SIGNING + " Refused: 422 webhook_url_refused (not https://, or the host "
        "resolves to a private, loopback, link-local or reserved address).",
        status_code=201,
        responses=errors(400, 422),
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[WebhookIn]
    ) -> WebhookCreated:
        return await service.create(data, actor=principal(request).actor, now=clock.now())

    @get(operation_id="listWebhooks", summary="Every webhook endpoint", responses=errors())
    async def list_webhooks(self) -> list[WebhookOut]:
        return await service.list_all()

    @get(
        "/{webhook_id:int}",
        operation_id="getWebhook",
        summary="One webhook endpoint (never its secret)",
        responses=errors(404),
    )
    async def get_webhook(self, webhook_id: PathId) -> WebhookOut:
        return await service.get(webhook_id)

    @post(
        "/{webhook_id:int}/enable",
        operation_id="enableWebhook",
        summary="Enable an endpoint again; its waiting deliveries go out in order",
        status_code=200,
        responses=errors(404),
    )
    async def enable(self, request: Request[Any, Any, Any], webhook_id: PathId) -> WebhookOut:
        return await service.set_active(webhook_id, True, actor=principal(request).actor)

    @post(
        "/{webhook_id:int}/disable",
        operation_id="disableWebhook",
        summary="Stop sending to an endpoint; its events keep waiting",
        status_code=200,
        responses=errors(404),
    )
    async def disable(self, request: Request[Any, Any, Any], webhook_id: PathId) -> WebhookOut:
        return await service.set_active(webhook_id, False, actor=principal(request).actor)

    @get(
        "/{webhook_id:int}/deliveries",
        operation_id="listWebhookDeliveries",
        summary="The endpoint's delivery log, newest first",
        description="Page back with `before` = the last id seen.",
        responses=errors(404),
    )
    async def deliveries(
        self,
        webhook_id: PathId,
        status: Annotated[DeliveryStatus | None, QueryParameter()] = None,
        before: QueryJournalId = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[DeliveryOut]:
        return await service.deliveries(webhook_id, status=status, before_id=before, limit=limit)

    @post(
        "/{webhook_id:int}/deliveries/{delivery_id:int}/replay",
        operation_id="replayWebhookDelivery",
        summary="Send a delivery's event again (same event id and body, signed anew)",
        description="It goes after the account's deliveries already waiting. Refused: 404 "
        "webhook_delivery_not_found; 422 webhook_disabled, or webhook_delivery_erased (the "
        "shopper it was about was erased: its body is gone).",
        status_code=202,
        responses=errors(404, 422),
    )
    async def replay(
        self, request: Request[Any, Any, Any], webhook_id: PathId, delivery_id: DeliveryId
    ) -> DeliveryOut:
        return await service.replay(
            webhook_id, delivery_id, actor=principal(request).actor, now=clock.now()
        )
