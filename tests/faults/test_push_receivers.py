"""Apple's and Google's servers failing every way they do, then answering: each device is
told once, a device Apple says is gone loses its registration, the Google object ends with
the account's balance, and nothing is left dead in the outbox."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from tests.passsync.conftest import Phone, download_pass, local
from tests.support.shop import Shop, line
from wallet import clock
from wallet import settings as settings_module
from wallet.passsync import outbox as pass_outbox
from wallet.platform import worker
from wallet.platform.tables import OutboxJob


@asynccontextmanager
async def tls_that_fails() -> AsyncIterator[str]:
    """A port that answers the TLS hello with plain text: the handshake fails."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def _point_apns_at(url: str) -> None:
    settings_module.override(dataclasses.replace(settings_module.get(), apns_url=url))


async def _push_job_due_in() -> float:
    [job] = await OutboxJob.select(OutboxJob.due_at).where(
        (OutboxJob.kind == pass_outbox.APNS_PUSH) & (OutboxJob.status == "pending")
    )
    return (job["due_at"] - clock.now()).total_seconds()


async def test_apns_failing_handshake_500_and_429_then_answering_tells_each_device_once(
    client, wallets
):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    kept = Phone(client, device_id="a1" * 16, push_token="f1" * 32)
    gone = Phone(client, device_id="a2" * 16, push_token="f2" * 32)
    for phone in (kept, gone):
        assert (await phone.register(card)).status_code == 201
    wallets.apns.answers[gone.push_token] = (410, "Unregistered")

    # The TLS handshake fails: nothing pushed, the push job waits.
    async with tls_that_fails() as broken:
        _point_apns_at(broken)
        await shop.receipt(shopper.card, "R-1", [line(10_000)])
        await worker.run_until_idle()
    assert wallets.apns.pushes == []
    _point_apns_at(wallets.apns.url)

    # 500 to both devices, then 429 asking for 7 s.
    wallets.apns.fail_next = [(500, "InternalServerError")] * 2 + [
        (429, "TooManyRequests", "7")
    ] * 2
    for _ in range(10):  # steps shorter than the 7 s asked for, longer than the backoff
        if len(wallets.apns.fail_next) == 0:
            break
        await worker.run_until_idle(now=clock.now() + timedelta(seconds=4))
    assert wallets.apns.fail_next == [] and wallets.apns.pushes == []
    # Retry-After is honoured: the sweep waits the 7 s asked, not its own backoff.
    assert 5 < await _push_job_due_in() <= 7
    await worker.run_until_idle(now=clock.now() + timedelta(seconds=4))
    assert wallets.apns.pushes == []

    await worker.run_until_idle(now=clock.now() + timedelta(seconds=8))
    assert [p.token for p in wallets.apns.pushes] == [kept.push_token]
    assert (await gone.changed(card)).status_code == 204  # its registration is gone
    assert (await kept.changed(card)).status_code == 200
    assert await OutboxJob.count().where(OutboxJob.status == "dead") == 0


async def test_google_answering_429_and_503_then_200_ends_with_the_balance_once(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    me = await shop.me(shopper)
    assert (await client.get(local(me["links"]["google_save"]))).status_code == 302
    await worker.run_until_idle()
    [object_id] = wallets.google.objects

    wallets.google.fail_next = [429, 503]
    await shop.receipt(shopper.card, "R-1", [line(100_000)])
    for _ in range(5):
        await worker.run_until_idle(now=clock.now() + timedelta(minutes=5))
    assert wallets.google.statuses("PATCH") == [429, 503, 200]
    balance = (await shop.me(shopper))["balance"]
    assert wallets.google.objects[object_id]["loyaltyPoints"]["balance"]["int"] == balance > 0
    assert len(wallets.google.objects) == 1 and wallets.google.problems == []
    assert await OutboxJob.count().where(OutboxJob.status == "dead") == 0
