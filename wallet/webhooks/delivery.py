"""Sending one account's stream of deliveries to one endpoint, oldest first.

Only the stream's oldest delivery not yet done (its head) may be sent, and only by the
worker holding its lease: so the receiver hears an account's events in commit order, and
two workers never send the same one. A failed attempt waits with exponential backoff
(30 s, doubling, at most an hour apart) and the stream waits behind it; after 24 h of
failing the delivery is given up (``failed``, replayable) and the stream moves on.

Delivery is at least once: a worker that dies after the receiver answered but before the
row says so sends it again after its lease. Receivers deduplicate by
``X-Wallet-Event-Id``.

Every attempt counts for the endpoint: ``WALLET_WEBHOOKS_DISABLE_FAILURES`` failed
attempts in a row (across its streams), the first at least ``WALLET_WEBHOOKS_DISABLE_SECONDS``
ago, disable it and email ``WALLET_WEBHOOKS_ADMIN_EMAIL``; its waiting deliveries keep
until an admin enables it again.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from wallet import clock, db
from wallet import settings as settings_module
from wallet.mail import service as mail
from wallet.webhooks import addresses, queries, service, signing

log = logging.getLogger("wallet.webhooks")

LEASE = timedelta(seconds=60)
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT = httpx.Timeout(10.0)
FIRST_WAIT = 30
LONGEST_WAIT = 3600


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_WAIT * 2 ** max(attempts - 1, 0), LONGEST_WAIT))


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    error: str


def _verify() -> ssl.SSLContext | bool:
    ca = settings_module.get().webhooks_ca
    return ssl.create_default_context(cafile=ca) if ca else True


async def send(
    url: str, secret: str, event_id: str, event_type: str, body: str, now: datetime
) -> Outcome:
    """One signed POST to the address the URL's host resolves to now (checked again: a
    name that turned private since registration is refused, not called)."""
    try:
        host, port, address = await addresses.resolve(url)
    except addresses.WebhookUrlRefused as exc:
        return Outcome(False, None, f"address refused: {exc.message}")
    raw = body.encode()
    timestamp = str(int(now.timestamp()))
    try:
        target = httpx.URL(url).copy_with(host=address)
    except httpx.InvalidURL as exc:
        return Outcome(False, None, f"address refused: {exc}")
    headers = {
        "Host": host if port == 443 else f"{host}:{port}",
        "Content-Type": "application/json",
        "User-Agent": "loyalty-wallet-webhooks/1",
        "X-Wallet-Event-Id": event_id,
        "X-Wallet-Event-Type": event_type,
        "X-Wallet-Timestamp": timestamp,
        "X-Wallet-Signature": signing.signature(secret, timestamp, raw),
    }
    try:
        async with httpx.AsyncClient(
            verify=_verify(), timeout=TIMEOUT, follow_redirects=False, trust_env=False
        ) as http:
            reply = await http.post(
                target, content=raw, headers=headers, extensions={"sni_hostname": host}
            )
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= reply.status_code < 300:
        return Outcome(True, reply.status_code, "")
    return Outcome(False, reply.status_code, f"HTTP {reply.status_code}")


async def run_stream(endpoint_id: int, account_id: int) -> None:
    """Send the stream's waiting deliveries in order until it is empty, or its head must
    wait (a retry later, another worker's lease): then a job is queued for that moment."""
    while True:
        now = clock.now()
        async with db.write_transaction():
            endpoints = await db.fetch(queries.ENDPOINT_FOR_SENDING, endpoint_id)
            if not endpoints or endpoints[0]["status"] != "active":
                return  # kept waiting: enabling the endpoint queues its streams again
            heads = await db.fetch(queries.HEAD, endpoint_id, account_id)
            if not heads:
                return
            head = heads[0]
            if head["status"] == "sending" and head["lease_until"] > now:
                await service.queue_stream(endpoint_id, account_id, due_at=head["lease_until"])
                return
            if head["status"] == "pending" and head["next_attempt_at"] > now:
                await service.queue_stream(endpoint_id, account_id, due_at=head["next_attempt_at"])
                return
            claimed = await db.fetch(queries.CLAIM, head["id"], now + LEASE, now)
            if not claimed:
                return
        endpoint = endpoints[0]
        outcome = await send(
            endpoint["url"],
            signing.unseal(endpoint["secret"]),
            head["event_id"],
            head["event_type"],
            head["body"],
            now,
        )
        done = clock.now()
        if outcome.ok:
            async with db.write_transaction():
                await db.fetch(queries.DELIVERED, head["id"], outcome.status, done)
                await db.fetch(queries.ENDPOINT_OK, endpoint_id)
            continue
        if not await _failed(endpoint_id, account_id, head, claimed[0]["attempts"], outcome, done):
            return


async def _failed(
    endpoint_id: int,
    account_id: int,
    head: dict[str, object],
    attempts: int,
    outcome: Outcome,
    now: datetime,
) -> bool:
    """Record a failed attempt; True when the stream may go on at once (the delivery was
    given up), False when it waits (its retry is queued) or the endpoint was disabled."""
    retry_at = now + backoff(attempts)
    created_at = head["created_at"]
    assert isinstance(created_at, datetime)
    give_up = retry_at - created_at > GIVE_UP_AFTER
    log.warning(
        "webhook %s delivery %s attempt %s failed%s: %s",
        endpoint_id,
        head["id"],
        attempts,
        " for good (24 h)" if give_up else f", retry at {retry_at.isoformat()}",
        outcome.error,
    )
    cfg = settings_module.get()
    async with db.write_transaction():
        await db.fetch(
            queries.FAILED_ATTEMPT,
            head["id"],
            "failed" if give_up else "pending",
            outcome.status,
            outcome.error,
            retry_at,
        )
        counted = (await db.fetch(queries.ENDPOINT_FAILED, endpoint_id, now))[0]
        failing_for = now - counted["failing_since"]
        if counted["failures"] >= cfg.webhooks_disable_failures and failing_for >= timedelta(
            seconds=cfg.webhooks_disable_seconds
        ):
            await _disable(endpoint_id, counted["failures"], failing_for, outcome, now)
            return False
        if not give_up:
            await service.queue_stream(endpoint_id, account_id, due_at=retry_at)
    return give_up


async def _disable(
    endpoint_id: int, failures: int, failing_for: timedelta, outcome: Outcome, now: datetime
) -> None:
    reason = (
        f"{failures} failed attempts in a row over {int(failing_for.total_seconds() // 60)} "
        f"min; last: {outcome.error}"
    )
    service.changed()
    disabled = await db.fetch(queries.DISABLE, endpoint_id, reason[:1000])
    if not disabled:
        return
    log.error("webhook %s disabled: %s", endpoint_id, reason)
    admin = settings_module.get().webhooks_admin_email
    if not admin:
        log.warning(
            "no WALLET_WEBHOOKS_ADMIN_EMAIL: nobody is emailed that webhook %s stopped", endpoint_id
        )
        return
    await mail.queue_email(
        to=admin,
        template="webhook_disabled",
        lang="ru",
        context={
            "webhook_id": endpoint_id,
            "url": disabled[0]["url"],
            "failures": failures,
            "minutes": int(failing_for.total_seconds() // 60),
            "last_error": outcome.error,
            "when": now.isoformat(timespec="seconds"),
        },
        dedupe_key=f"webhook-disabled:{endpoint_id}:{now.isoformat()}",
    )
