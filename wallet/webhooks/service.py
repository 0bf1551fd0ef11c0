"""Webhooks: admins register HTTPS endpoints for the events they want; every event becomes
one delivery row per endpoint in the event's own transaction (a rollback sends nothing, a
crash after the commit loses nothing), sent by the worker (``delivery.py``).

The domains that publish events know nothing of this one: ``wallet.wiring`` turns their
in-transaction events into ``publish`` calls.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from wallet import db, runtime
from wallet.errors import InvalidInput, NotFound
from wallet.platform import service as platform
from wallet.webhooks import addresses, queries, signing
from wallet.webhooks.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut

DELIVER = "webhooks.deliver"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


class WebhookDisabled(InvalidInput):
    code = "webhook_disabled"


class DeliveryErased(InvalidInput):
    code = "webhook_delivery_erased"


def stream_key(endpoint_id: int, account_id: int) -> str:
    return f"webhook:{endpoint_id}:{account_id}"


async def queue_stream(
    endpoint_id: int, account_id: int, *, due_at: datetime | None = None, fold: bool = True
) -> None:
    """Ask the worker to send the stream's waiting deliveries. ``fold``: a job already
    waiting for the stream absorbs this one (events); an admin's enable or replay queues
    its own job, due now, however late the waiting one is."""
    await platform.enqueue(
        kind=DELIVER,
        payload={"endpoint_id": endpoint_id, "account_id": account_id},
        dedupe_key=stream_key(endpoint_id, account_id) if fold else None,
        due_at=due_at,
    )


async def create(data: WebhookIn, *, actor: str, now: datetime) -> WebhookCreated:
    await addresses.resolve(data.url)
    secret = signing.new_secret()
    events = sorted(set(data.events))
    async with db.write_transaction():
        changed()
        rows = await db.fetch(
            queries.INSERT_ENDPOINT, data.url, events, signing.seal(secret), actor, now
        )
        endpoint_id = int(rows[0]["id"])
        # The secret stays out of the audit trail as out of the log.
        await platform.audit(
            actor=actor,
            action="webhook.create",
            subject=f"webhook:{endpoint_id}",
            details={"url": data.url, "events": events},
        )
    return WebhookCreated(webhook=await get(endpoint_id), secret=secret)


def _out(row: dict[str, Any]) -> WebhookOut:
    return msgspec.convert(row, WebhookOut)


async def get(endpoint_id: int) -> WebhookOut:
    rows = await db.fetch(queries.ENDPOINT, endpoint_id)
    if not rows:
        raise WebhookNotFound(f"no webhook {endpoint_id}", {"webhook_id": endpoint_id})
    return _out(rows[0])


async def list_all() -> list[WebhookOut]:
    return [_out(row) for row in await db.fetch(queries.ENDPOINTS)]


async def set_active(endpoint_id: int, active: bool, *, actor: str) -> WebhookOut:
    """Enable (its waiting deliveries go out again, in order) or disable an endpoint."""
    async with db.write_transaction():
        changed()
        found = await db.fetch(
            queries.SET_STATUS,
            endpoint_id,
            "active" if active else "disabled",
            "" if active else f"disabled by {actor}",
        )
        if not found:
            raise WebhookNotFound(f"no webhook {endpoint_id}", {"webhook_id": endpoint_id})
        if active:
            for row in await db.fetch(queries.PENDING_STREAMS, endpoint_id):
                await queue_stream(endpoint_id, int(row["account_id"]), fold=False)
        await platform.audit(
            actor=actor,
            action="webhook.enable" if active else "webhook.disable",
            subject=f"webhook:{endpoint_id}",
            details={},
        )
    return await get(endpoint_id)


async def deliveries(
    endpoint_id: int, *, status: str | None, before_id: int | None, limit: int
) -> list[DeliveryOut]:
    await get(endpoint_id)
    statement, args = queries.deliveries(endpoint_id, status, before_id, limit)
    return [msgspec.convert(row, DeliveryOut) for row in await db.fetch(statement, *args)]


async def replay(endpoint_id: int, delivery_id: int, *, actor: str, now: datetime) -> DeliveryOut:
    """Send a delivery's event again (same event id and body, freshly signed), after the
    account's deliveries already waiting."""
    endpoint = await get(endpoint_id)
    if endpoint.status != "active":
        raise WebhookDisabled(
            f"webhook {endpoint_id} is disabled; enable it first", {"webhook_id": endpoint_id}
        )
    async with db.write_transaction():
        rows = await db.fetch(queries.DELIVERY, delivery_id, endpoint_id)
        if not rows:
            raise DeliveryNotFound(
                f"webhook {endpoint_id} has no delivery {delivery_id}",
                {"webhook_id": endpoint_id, "delivery_id": delivery_id},
            )
        old = rows[0]
        if not old["body"]:
            raise DeliveryErased(
                f"delivery {delivery_id} was about a shopper whose data was erased: its "
                "body is gone and cannot be sent again",
                {"webhook_id": endpoint_id, "delivery_id": delivery_id},
            )
        made = await db.fetch(
            queries.INSERT_DELIVERY,
            endpoint_id,
            old["event_id"],
            old["event_type"],
            old["account_id"],
            old["body"],
            now,
            delivery_id,
        )
        await queue_stream(endpoint_id, int(old["account_id"]), fold=False)
        await platform.audit(
            actor=actor,
            action="webhook.replay",
            subject=f"webhook:{endpoint_id}",
            details={"delivery_id": delivery_id, "event_id": old["event_id"]},
        )
    new_id = int(made[0]["id"])
    found = await deliveries(endpoint_id, status=None, before_id=new_id + 1, limit=1)
    return found[0]


ERASED_NOTE = "not sent: the shopper's data was erased (152-FZ)"


async def forget_account(account_id: int) -> int:
    """Erase what the deliveries say about the account's person (152-FZ), in the erase's
    transaction: every delivery of the account, to any endpoint, loses its body (member
    and card ids, card numbers), delivered ones keep their place in the log, and those not
    yet delivered are never sent (status ``erased``; the account's stream moves past
    them). Returns how many deliveries were erased before being sent."""
    rows = await db.fetch(queries.ERASE_DELIVERIES, account_id, ERASED_NOTE)
    return sum(1 for row in rows if row["status"] == "erased")


# How long the list of active endpoints is trusted: every event of a till's receipt asks
# for it (most programs have none), so it is read once a second, not per event. A change
# made in this process makes every reader here ask again until it has surely committed;
# one made in another process (a second web process, the worker disabling an endpoint)
# applies here within this bound.
RECHECK_SECONDS = 1.0


def changed() -> None:
    runtime.current().caches.webhooks_changed = time.monotonic()


async def _listeners() -> list[tuple[int, frozenset[str]]]:
    caches, moment = runtime.current().caches, time.monotonic()
    cached = caches.webhooks
    if (
        cached is not None
        and moment - cached[0] < RECHECK_SECONDS
        and moment - caches.webhooks_changed > RECHECK_SECONDS
    ):
        found: list[tuple[int, frozenset[str]]] = cached[1]
        return found
    found = [
        (int(row["id"]), frozenset(row["events"] or []))
        for row in await db.fetch(queries.ACTIVE_ENDPOINTS)
    ]
    caches.webhooks = (moment, found)
    return found


async def publish(*, event_type: str, account_id: int, data: dict[str, Any], now: datetime) -> None:
    """One event, in its writer's transaction: a delivery row for every active endpoint
    that asked for ``event_type``, and the stream's job for the worker."""
    listeners = [endpoint_id for endpoint_id, events in await _listeners() if event_type in events]
    if not listeners:
        return
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    for endpoint_id in listeners:
        await db.fetch(
            queries.INSERT_DELIVERY, endpoint_id, event_id, event_type, account_id, body, now, None
        )
        await queue_stream(endpoint_id, account_id)


async def publish_set(
    *,
    event_type: str,
    rows: str,
    args: Sequence[Any],
    columns: Sequence[str],
    now: datetime,
) -> None:
    """``publish`` for a set-based writer's event about many accounts (the month-end
    cashback's credit), in its transaction: for every active endpoint that asked for
    ``event_type``, one delivery per row of the SELECT ``rows`` (its arguments ``args``;
    ``account_id`` and the whole-number ``columns``, the event's ``data``) and each stream's
    job, in two ``INSERT ... SELECT`` statements. When nobody asked, nothing is read."""
    listeners = sorted(
        endpoint_id for endpoint_id, events in await _listeners() if event_type in events
    )
    if not listeners:
        return
    p = db.Params(*args)
    text = queries.insert_deliveries_set(
        rows,
        p,
        endpoint_ids=listeners,
        event_type=event_type,
        columns=columns,
        now=now,
        sqlite=db.is_sqlite(),
    )
    await db.fetch(text, *p.values)
    await platform.enqueue_set(
        kind=DELIVER, jobs=queries.stream_jobs_set(rows, listeners), args=args
    )
