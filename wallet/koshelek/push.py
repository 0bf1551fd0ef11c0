"""Pushes to the card in «Кошелёк» through its Push API (we are the client).

A push is recorded in ``koshelek_push`` with Кошелёк's message id, so its delivery-status
callbacks (DELIVERED, OPENED) land on the row. Campaign (PROMO) pushes are sent by the
campaigns' send slices; service (TRANSACTION) pushes by an outbox job queued when a receipt
moves a balance, at most one per shopper per ``WALLET_KOSHELEK_TRANSACTION_EVERY_SECONDS``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec

from wallet import clock, db, observe, words
from wallet import settings as settings_module
from wallet.koshelek import protocol
from wallet.koshelek.tables import KoshelekCard, KoshelekPush
from wallet.ledger import reads as ledger_reads
from wallet.platform import service as platform

log = logging.getLogger("wallet.koshelek.push")

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class PushUnavailable(Exception):
    """Кошелёк did not take the push (down, overloaded, 5xx, 429): try again later."""


class PushRefused(Exception):
    """Кошелёк refused this push for good (a 4xx): it never succeeds on a retry."""


def configured() -> bool:
    cfg = settings_module.get()
    return bool(cfg.koshelek_push_login and cfg.koshelek_push_password)


def client() -> httpx.AsyncClient:
    cfg = settings_module.get()
    return httpx.AsyncClient(
        base_url=cfg.koshelek_push_url,
        auth=httpx.BasicAuth(cfg.koshelek_push_login, cfg.koshelek_push_password),
        timeout=TIMEOUT,
    )


def balance_text(balance: int) -> str:
    """The transaction push's text: 'Ваш баланс: 22 балла' (the plural agreeing, not
    '22 баллов')."""
    return f"Ваш баланс: {words.points(balance)}"


async def send(
    http: httpx.AsyncClient,
    *,
    account_id: int,
    msisdn: str,
    push_type: str,
    title: str,
    message: str,
    image: str = "",
    utm_campaign: str = "",
    delivery_id: int | None = None,
) -> str:
    """One push; returns Кошелёк's state (ENQUEUED or MSISDN_NOT_REGISTERED) after
    recording it."""
    if not configured():
        raise PushRefused("WALLET_KOSHELEK_PUSH_LOGIN and _PASSWORD are not set")
    body = protocol.push_body(
        push_type=push_type,
        msisdn=msisdn,
        title=title,
        message=message,
        image=image,
        utm_campaign=utm_campaign,
    )
    try:
        with observe.timed("koshelek"):
            response = await http.post(protocol.PUSH_DELIVERY, json=body)
    except httpx.HTTPError as exc:
        observe.delivered("koshelek", "failed", "unreachable")
        raise PushUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        observe.delivered("koshelek", "failed", str(response.status_code))
    else:
        observe.delivered("koshelek", "sent")
    if response.status_code == 429 or response.status_code >= 500:
        raise PushUnavailable(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise PushRefused(f"HTTP {response.status_code}: {response.text[:150]}")
    try:
        reply = msgspec.json.decode(response.content, type=protocol.PushReply)
    except msgspec.DecodeError as exc:
        raise PushRefused(f"unreadable reply: {exc}") from exc
    state = reply.state or protocol.STATE_ENQUEUED
    async with db.write_transaction():
        await KoshelekPush.insert(
            KoshelekPush(
                message_id=reply.messageId or None,
                account_id=account_id,
                push_type=push_type,
                delivery_id=delivery_id,
                state=state,
                sent_at=clock.now(),
            )
        )
    return state


async def record_status(message_id: str, state: str, *, now: datetime) -> bool:
    """A delivery-status callback; False for a message we never sent (ignored, 200, so
    Кошелёк does not retry it forever)."""
    columns: dict[Any, Any] = {KoshelekPush.state: state}
    if state == protocol.STATE_DELIVERED:
        columns[KoshelekPush.delivered_at] = now
    elif state == protocol.STATE_OPENED:
        columns[KoshelekPush.opened_at] = now
    else:
        return False
    row = (
        await KoshelekPush.select(KoshelekPush.id, KoshelekPush.state)
        .where(KoshelekPush.message_id == message_id)
        .first()
    )
    if row is None:
        log.info("koshelek callback for an unknown message %s: ignored", message_id[:64])
        return False
    if row["state"] == protocol.STATE_OPENED:
        # A late DELIVERED after OPENED does not move it back.
        columns.pop(KoshelekPush.state)
    await KoshelekPush.update(columns).where(KoshelekPush.id == row["id"])
    return True


# ---- service pushes after a receipt -------------------------------------------------------


async def on_receipt(event: Any) -> None:
    """Queued in the receipt's transaction; sent by the worker after it commits. One
    waiting job per account absorbs the receipts that follow it."""
    if not configured() or settings_module.get().koshelek_transaction_every_seconds <= 0:
        return
    if not await KoshelekCard.exists().where(KoshelekCard.account_id == event.account_id):
        return
    await platform.enqueue(
        kind="koshelek_transaction",
        payload={"account_id": event.account_id},
        dedupe_key=f"koshelek:transaction:{event.account_id}",
    )


async def transaction_push(account_id: int, *, now: datetime) -> str:
    """The balance push for one account, unless one went within the rate limit."""
    every = settings_module.get().koshelek_transaction_every_seconds
    link = (
        await KoshelekCard.select(KoshelekCard.msisdn)
        .where(KoshelekCard.account_id == account_id)
        .first()
    )
    if link is None or not link["msisdn"] or not configured() or every <= 0:
        return "skipped"
    recent = await KoshelekPush.exists().where(
        (KoshelekPush.account_id == account_id)
        & (KoshelekPush.push_type == protocol.PUSH_TRANSACTION)
        & (KoshelekPush.sent_at > now - timedelta(seconds=every))
    )
    if recent:
        return "limited"
    summary = await ledger_reads.summary(account_id, now=now)
    async with client() as http:
        return await send(
            http,
            account_id=account_id,
            msisdn=link["msisdn"],
            push_type=protocol.PUSH_TRANSACTION,
            title="Баллы на карте",
            message=balance_text(summary.balance),
        )
