"""Pushes to Apple Wallet: HTTP/2 with the Pass Type ID client certificate, topic = pass
type identifier, empty payload, one push per device per change, dead devices removed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.passsync.conftest import Phone, download_pass, wallets_holding
from tests.support.shop import Shop, line
from wallet import clock, db
from wallet.passsync import push as apns_push
from wallet.passsync import refresh
from wallet.platform import worker
from wallet.platform.tables import OutboxJob


async def test_a_change_pushes_once_to_every_device_with_the_pass_topic_and_empty_payload(
    client, wallets
):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    iphone = Phone(client, device_id="d" * 32, push_token="aa" * 32)
    watch = Phone(client, device_id="e" * 32, push_token="bb" * 32)
    assert (await iphone.register(card)).status_code == 201
    assert (await watch.register(card)).status_code == 201

    # Ten receipts before the worker wakes coalesce into one update per device.
    for n in range(10):
        await shop.receipt(shopper.card, f"R-{n}", [line(10_000)])
    await worker.run_until_idle()

    pushes = wallets.apns.pushes
    assert sorted(p.token for p in pushes) == sorted([iphone.push_token, watch.push_token])
    for push in pushes:
        assert push.topic == "pass.ru.example.loyalty"
        assert push.body == b"{}"
        assert push.http_version == "2"


async def test_a_device_apple_says_is_gone_loses_its_registration(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    gone = Phone(client, device_id="f" * 32, push_token="cc" * 32)
    bad = Phone(client, device_id="0" * 32, push_token="dd" * 32)
    kept = Phone(client, device_id="1" * 32, push_token="ee" * 32)
    for phone in (gone, bad, kept):
        assert (await phone.register(card)).status_code == 201
    wallets.apns.answers[gone.push_token] = (410, "Unregistered")
    wallets.apns.answers[bad.push_token] = (400, "BadDeviceToken")

    await shop.receipt(shopper.card, "R-1", [line(10_000)])
    await worker.run_until_idle()
    assert [p.token for p in wallets.apns.pushes] == [kept.push_token]
    assert (await gone.changed(card)).status_code == 204
    assert (await bad.changed(card)).status_code == 204
    assert (await kept.changed(card)).status_code == 200
    assert await wallets_holding(shopper.account_id) == {"apple"}


async def test_apns_429_and_503_are_retried_later_and_delivered_once(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="2" * 32, push_token="12" * 32)
    assert (await phone.register(card)).status_code == 201
    wallets.apns.fail_next = [(429, "TooManyRequests"), (503, "ServiceUnavailable")]

    await shop.receipt(shopper.card, "R-1", [line(10_000)])
    now = clock.now()
    await worker.run_until_idle(now=now)
    assert wallets.apns.pushes == []
    for later in (5, 30, 90):
        await worker.run_until_idle(now=now + timedelta(seconds=later))
    assert len(wallets.apns.to(phone.push_token)) == 1


async def test_a_receipt_whose_transaction_rolls_back_pushes_nothing(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="3" * 32, push_token="34" * 32)
    assert (await phone.register(card)).status_code == 201
    from wallet.platform import service as platform

    try:
        async with db.write_transaction():
            await platform.enqueue_pass_update(shopper.account_id)
            raise RuntimeError("the till's write failed after the ledger rows")
    except RuntimeError:
        pass
    await worker.run_until_idle()
    assert wallets.apns.pushes == []


async def test_a_worker_killed_between_claim_and_send_delivers_each_update_once(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="4" * 32, push_token="56" * 32)
    assert (await phone.register(card)).status_code == 201

    await shop.receipt(shopper.card, "R-1", [line(10_000)])
    now = clock.now()
    # A worker claims the pass update and dies before doing anything.
    claimed = await worker._claim(now, 10)
    assert "pass_update" in [job["kind"] for job in claimed]
    await worker.run_until_idle(now=now + timedelta(seconds=1))
    assert wallets.apns.pushes == []
    # Its lease runs out; a restarted worker refreshes the pass and pushes, once, and the
    # push job queued with the change finds the device already told.
    later = now + worker.LEASE + timedelta(seconds=1)
    await worker.run_until_idle(now=later)
    await worker.run_until_idle(now=later + 3 * worker.LEASE)
    assert len(wallets.apns.to(phone.push_token)) == 1

    # A second change; the worker is killed after claiming the push job (the immediate
    # push having met an APNs outage); the restarted one sends it, once.
    wallets.apns.fail_next = [(503, "ServiceUnavailable")]
    await shop.receipt(shopper.card, "R-2", [line(10_000)])
    await worker.run_once(now=later + 4 * worker.LEASE)
    assert len(wallets.apns.to(phone.push_token)) == 1
    claimed = await worker._claim(later + 5 * worker.LEASE, 10)
    assert "apns_push" in [job["kind"] for job in claimed]
    await worker.run_until_idle(now=later + 7 * worker.LEASE)
    await worker.run_until_idle(now=later + 9 * worker.LEASE)
    assert len(wallets.apns.to(phone.push_token)) == 2
    statuses = await OutboxJob.select(OutboxJob.status).where(
        OutboxJob.kind.is_in(["pass_update", "apns_push"])
    )
    assert {row["status"] for row in statuses} == {"done"}


async def test_the_embedded_worker_pushes_within_a_second_of_the_commit(client, wallets):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="5" * 32, push_token="78" * 32)
    assert (await phone.register(card)).status_code == 201
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop, poll_seconds=0.05))
    try:
        started = asyncio.get_running_loop().time()
        await shop.receipt(shopper.card, "R-1", [line(10_000)])
        await asyncio.wait_for(wallets.apns.arrived.wait(), timeout=5)
        assert asyncio.get_running_loop().time() - started < 1.0
    finally:
        stop.set()
        await running


_slow_started = asyncio.Event()
_slow_release = asyncio.Event()


async def _slow_job(_payload: dict[str, object]) -> None:
    _slow_started.set()
    await _slow_release.wait()


worker.register("test.slow", _slow_job)


async def test_a_long_job_does_not_hold_back_a_receipts_push(client, wallets):
    """A campaign's sending slice works for 20 s: the pass updates of the tills go on
    beside it, not after it."""
    from wallet.platform import service as platform

    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="6" * 32, push_token="79" * 32)
    assert (await phone.register(card)).status_code == 201
    _slow_started.clear()
    _slow_release.clear()
    async with db.write_transaction():
        await platform.enqueue(kind="test.slow", payload={})
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop, poll_seconds=0.05))
    try:
        await asyncio.wait_for(_slow_started.wait(), timeout=5)
        started = asyncio.get_running_loop().time()
        await shop.receipt(shopper.card, "R-1", [line(10_000)])
        await asyncio.wait_for(wallets.apns.arrived.wait(), timeout=5)
        assert asyncio.get_running_loop().time() - started < 1.0
        assert not _slow_release.is_set()  # the long job is still running
    finally:
        _slow_release.set()
        stop.set()
        await running
    slow = await OutboxJob.select(OutboxJob.status).where(OutboxJob.kind == "test.slow")
    assert [row["status"] for row in slow] == ["done"]  # stopping let it finish


async def test_pass_updates_run_together_give_each_pass_its_own_tag_and_push_each_device_once(
    client, wallets
):
    shop = await Shop.open(client)
    phones = []
    for n in range(6):
        shopper = await shop.enrol()
        card = await download_pass(shop, shopper)
        phone = Phone(client, device_id=f"{n:032d}", push_token=f"{n:02d}" * 32)
        assert (await phone.register(card)).status_code == 201
        tag = (await phone.changed(card)).json()["lastUpdated"]
        phones.append((shopper, card, phone, tag))
        await shop.receipt(shopper.card, f"R-{n}", [line(10_000)])

    # One worker round claims every pass update at once; they are refreshed together.
    await worker.run_until_idle()

    pushes = wallets.apns.pushes
    assert sorted(p.token for p in pushes) == sorted(phone.push_token for *_s, phone, _t in phones)
    new_tags = set()
    for _shopper, card, phone, tag in phones:
        seen = (await phone.changed(card, since=tag)).json()
        assert seen["serialNumbers"] == [card.serial]
        new_tags.add(seen["lastUpdated"])
    assert len(new_tags) == len(phones)


async def test_a_pass_that_changes_again_while_its_push_is_on_the_way_is_pushed_again(
    client, wallets
):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="7" * 32, push_token="7a" * 32)
    assert (await phone.register(card)).status_code == 201
    await shop.receipt(shopper.card, "R-1", [line(10_000)])
    # What the pass update does before its sweep: a new tag, the device flagged.
    await refresh.refresh_account(shopper.account_id, now=clock.now())

    # A sweep claims the device and reads the tag; the next receipt changes the pass
    # before that sweep records its push.
    devices = await apns_push.claim_devices(clock.now())
    assert [d["push_token"] for d in devices] == [phone.push_token]
    tags = {card.serial: await _tag(card.serial)}
    await shop.receipt(shopper.card, "R-2", [line(10_000)])
    await refresh.refresh_account(shopper.account_id, now=clock.now())
    await apns_push.push_batch(devices, tags)
    assert len(wallets.apns.to(phone.push_token)) == 1

    await apns_push.push_due()
    assert len(wallets.apns.to(phone.push_token)) == 2
    await apns_push.push_due()  # told of the newest tag: nothing more
    assert len(wallets.apns.to(phone.push_token)) == 2


async def _tag(serial: str) -> int:
    from wallet.passsync.tables import PassCard

    row = await PassCard.select(PassCard.tag).where(PassCard.serial == serial).first()
    assert row is not None
    return int(row["tag"])
