"""SMS go out over real SMPP 3.4 to an SMSC stand-in on loopback: Cyrillic as UCS-2, long
texts as concatenated parts with a UDH, a throttling SMSC retried, an SMSC that is down
or refuses the bind leaves the message waiting in the outbox (sent once when it is back),
and delivery receipts (deliver_sm) recorded on the message."""

from __future__ import annotations

import asyncio
import ssl
from datetime import timedelta

from tests.sms.conftest import use_smsc
from tests.support.smsc_standin import SmscStandin
from wallet import clock, db
from wallet.platform import worker
from wallet.sms import service


async def queue(phone: str, text: str) -> int:
    async with db.write_transaction():
        return await service.queue(phone=phone, text=text, kind="signin", now=clock.now())


async def rows() -> list[dict]:
    return await db.raw(
        "SELECT id, status, parts, text, smsc_message_id FROM sms_message ORDER BY id"
    )


async def settle(predicate, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)


async def run_jobs() -> None:
    await worker.run_until_idle(now=clock.now() + timedelta(seconds=30))


async def test_cyrillic_goes_as_ucs2_long_texts_in_udh_parts_and_receipts_are_recorded(smsc):
    smsc.fail_to.add("79035550000")
    await queue("8 (912) 345-67-89", "Код входа: 123456")
    long_text = "Скидка 20% на всё в субботу в магазинах сети! " * 4
    await queue("+79123456789", long_text)
    await queue("+7 903 555-00-00", "Код входа: 654321")
    await run_jobs()
    # The jobs run side by side: the SMSC sees them in any order.
    short = next(p for p in smsc.submits if p.text == "Код входа: 123456")
    undelivered = next(p for p in smsc.submits if p.text == "Код входа: 654321")
    parts = [p for p in smsc.submits if p.udh]
    assert short.destination == "79123456789" and short.source == "Loyalty"
    assert short.data_coding == 8 and short.text == "Код входа: 123456" and short.udh == b""
    assert len(parts) == 3 and all(p.data_coding == 8 and p.esm_class & 0x40 for p in parts)
    # UDH: IEI 0 (8-bit reference), length 3, reference, total, sequence number.
    assert [(p.udh[:3], p.udh[4], p.udh[5]) for p in parts] == [
        (b"\x05\x00\x03", 3, n) for n in (1, 2, 3)
    ]
    assert "".join(p.text for p in parts) == long_text
    assert undelivered.text == "Код входа: 654321"

    async def receipts_in() -> bool:
        return all(r["status"] != "sent" for r in await rows())

    await settle(receipts_in)
    found = await rows()
    assert [(r["status"], r["parts"]) for r in found] == [
        ("delivered", 1),
        ("delivered", 3),
        ("failed", 1),
    ]
    # The code is not kept once sent.
    assert all(r["text"] == "" for r in found)


async def test_a_throttling_smsc_is_retried_and_the_message_goes_out_once(smsc):
    smsc.throttle_first = 1
    await queue("+79123456789", "Код входа: 123456")
    await run_jobs()
    assert smsc.throttled == 1
    assert smsc.texts_to("79123456789") == ["Код входа: 123456"]
    assert [r["status"] for r in await rows()] in (["sent"], ["delivered"])


async def test_an_smsc_that_is_down_or_refuses_the_bind_leaves_the_message_waiting(smsc):
    port = smsc.port
    await smsc.stop()
    await queue("+79123456789", "Код входа: 123456")
    await worker.run_until_idle()
    assert [r["status"] for r in await rows()] == ["queued"]
    jobs = await db.raw("SELECT status, last_error FROM outbox_job WHERE kind = 'sms.send'")
    assert jobs[0]["status"] == "pending" and "not bound" in jobs[0]["last_error"]

    wrong = await SmscStandin(password="other", port=port).start()
    try:
        await run_jobs()
        assert wrong.refused_binds >= 1 and wrong.submits == []
        assert [r["status"] for r in await rows()] == ["queued"]
    finally:
        await wrong.stop()

    back = await SmscStandin(port=port).start()
    use_smsc(back)
    try:
        await worker.run_until_idle(now=clock.now() + timedelta(hours=2))
        assert back.texts_to("79123456789") == ["Код входа: 123456"]
        assert [r["status"] for r in await rows()] in (["sent"], ["delivered"])
    finally:
        from wallet.sms import smpp

        await smpp.close()
        await back.stop()


async def test_with_tls_the_pdus_go_to_the_smsc_over_a_verified_tls_session(smsc, certs_dir):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs_dir / "server-cert.pem", certs_dir / "server-key.pem")
    secure = await SmscStandin(tls=context).start()
    try:
        use_smsc(secure, smpp_tls=True, smpp_ca=str(certs_dir / "apple-root.pem"))
        await queue("+79123456789", "Код входа: 123456")
        await run_jobs()
        assert secure.texts_to("79123456789") == ["Код входа: 123456"]
        assert smsc.submits == []
    finally:
        from wallet.sms import smpp

        await smpp.close()
        await secure.stop()


async def test_a_campaign_chunk_goes_at_once_and_a_dead_writers_chunk_after_its_lease_once(smsc):
    """A campaign's chunk is written with its job already claimed and sent right after the
    commit; if the writer dies between the two, the job's lease runs out and a worker sends
    it, once."""
    from wallet.sms import smpp

    # Marketing texts wait out the program's quiet hours (21:00-09:00 Moscow time); this
    # test is about the chunk's job, not the hour it runs at (it failed in CI at 21:05).
    use_smsc(smsc, sms_quiet_hours=(0, 0))

    async def chunk(phones: list[str]) -> service.Chunk:
        async with db.write_transaction():
            return await service.queue_chunk(
                [(phone, "Скидка 20% в субботу") for phone in phones],
                kind="marketing",
                now=clock.now(),
                tag="campaign:1",
            )

    # The first chunk finds no session bound yet: it waits for a worker (and starts one).
    first = await chunk(["+79160000001"])
    assert first.job is None

    async def bound() -> bool:
        return smpp.client(service.record_receipt).bound

    await settle(bound)
    await worker.run_until_idle(now=clock.now())
    assert smsc.texts_to("79160000001") == ["Скидка 20% в субботу"]

    sent = await chunk(["+79160000002", "+79160000003"])
    assert sent.job is not None
    service.send_chunk(sent)
    await worker.wait_claimed()
    assert len(smsc.submits) == 3  # no worker ran: the writer sent it

    dead = await chunk(["+79160000004"])  # ... and "died" before send_chunk
    await worker.run_until_idle(now=clock.now())
    assert len(smsc.submits) == 3  # still leased by the writer
    await worker.run_until_idle(now=clock.now() + worker.LEASE + timedelta(seconds=1))
    assert smsc.texts_to("79160000004") == ["Скидка 20% в субботу"]
    await worker.run_until_idle(now=clock.now() + 2 * worker.LEASE + timedelta(seconds=2))
    assert len(smsc.submits) == 4
    assert dead.job is not None
    assert [r["status"] for r in await rows()].count("queued") == 0


async def test_a_running_worker_binds_to_the_smsc_as_it_starts_and_a_code_goes_at_once(smsc):
    """The worker holds its transceiver session from its start (receipts of messages sent
    before a restart come only on a bound session), so the first code does not wait for a
    bind, and it goes within a moment of its commit, not at the worker's next poll."""
    await worker.run_until_idle()  # the day's scheduled jobs: done before the worker waits
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_forever(stop, poll_seconds=30))
    try:
        await settle(lambda: _true(smsc.binds == 1))
        assert smsc.binds == 1 and smsc.texts_to("79123456789") == []
        await queue("+79123456789", "Код входа: 654321")
        await settle(lambda: _true(bool(smsc.texts_to("79123456789"))), seconds=1.5)
    finally:
        stop.set()
        await running
    assert smsc.texts_to("79123456789") == ["Код входа: 654321"]
    assert smsc.binds == 1


async def _true(value: bool) -> bool:
    return value
