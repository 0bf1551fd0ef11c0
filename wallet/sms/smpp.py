"""The SMPP 3.4 client: ``aiosmpplib``'s ESME bound as transceiver to the operator's SMSC.

Why aiosmpplib: it is asyncio-native (it runs in the worker's event loop beside the
outbox, no thread), maintained, typed, and does what the operator expects of an ESME:
bind_transceiver, enquire_link keep-alive, reconnect with exponential backoff, a send rate
limit, backing off on ESME_RTHROTTLED, UCS-2 and concatenated parts with a UDH, and the
correlation of ``deliver_sm`` receipts with the message they report on. What it lacks is
a call that answers "did the SMSC take this message": its sends are fire-and-forget into a
queue, with the outcome reported to a hook. ``SmppClient.submit`` adds that: a future per
message, resolved by the hook from ``submit_sm_resp`` (or the transport error).

aiosmpplib speaks plain TCP only: with ``WALLET_SMPP_TLS`` a loopback listener in this
process carries its bytes to the SMSC over TLS (verified against the system trust store
or ``WALLET_SMPP_CA``), so the PDUs never cross the network in the clear.

A message is handed to the library only on a bound session, so an SMSC that is down
leaves it in our outbox (to go out when the SMSC is back), never in the library's memory
where a retry would send it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiosmpplib import (
    ESME,
    AbstractHook,
    DeliverSm,
    PhoneNumber,
    SmppCommandStatus,
    SmppMessage,
    SmppSessionState,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.codec import GSM_BASIC_DECODE_MAP, GSM7BitCodec
from aiosmpplib.correlator import SimpleCorrelator
from aiosmpplib.ratelimiter import SimpleRateLimiter
from aiosmpplib.retrytimer import SimpleExponentialBackoff
from aiosmpplib.state import COMMAND_RESPONSE_MAP

from wallet import observe
from wallet import settings as settings_module
from wallet.platform.worker import GiveUp, RetryLater

if TYPE_CHECKING:
    from prometheus_client import Histogram

log = logging.getLogger("wallet.sms")

# How long a bound session is waited for before the message goes back to the outbox.
BIND_WAIT = 10.0
# How long the SMSC's submit_sm_resp is waited for.
RESPONSE_WAIT = 30.0
# Reconnecting to an SMSC that is down or refuses the bind: 1 s, doubling up to 32 s.
RECONNECT_FIRST_MS = 1000
RECONNECT_DOUBLINGS = 5

# The GSM 03.38 default alphabet: a text only of these goes as 160 7-bit characters a
# part; anything else (Cyrillic) as UCS-2, 70 a part.
_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def is_gsm(text: str) -> bool:
    return _GSM.issuperset(text)


def parts_of(text: str) -> int:
    """How many SMS the text takes: one up to 160 GSM / 70 UCS-2 characters, then parts of
    153 / 67 (six octets of each part carry the concatenation header)."""
    single, part = (160, 153) if is_gsm(text) else (70, 67)
    units = len(text) if is_gsm(text) else len(text.encode("utf-16-be")) // 2
    return 1 if units <= single else -(-units // part)


Receipt = Callable[[str, str], Awaitable[None]]


class _GsmCodec(GSM7BitCodec):
    """GSM 03.38 as the library decodes it, by one table lookup for the usual text without
    escapes (every receipt's text is decoded; character by character it was a twentieth
    of a campaign's CPU in bench/bench_sms.py). Anything else goes the library's way."""

    _table = {code: char for code, char in GSM_BASIC_DECODE_MAP.items()}
    _escape = 0x1B

    def decode(self, input: bytes, errors: str = "strict") -> tuple[str, int]:
        if (
            isinstance(input, bytes)
            and self._escape not in input
            and (not input or max(input) < 0x80)
        ):
            return input.decode("latin-1").translate(self._table), len(input)
        return super().decode(input, errors)


class _Correlator(SimpleCorrelator):
    """aiosmpplib's request/response and multi-part bookkeeping, at a cost that does not
    grow with what was sent (bench/bench_sms.py: the library's own correlator was the
    largest single cost of a campaign, and its memory grew with every message).

    - The library records a request only after its write has drained, so a fast SMSC's
      ``submit_sm_resp`` could come first and was not correlated ("Could not correlate
      SMPP response", then a 15 s wait for its expiry). Our hook records each request
      before it is written (``put_early``); the library's own ``put`` after the drain is
      then skipped.
    - A one-part message is not kept for its receipt (72 hours by default): we read the
      receipt's message id ourselves. Only the parts of a long text are kept, since the
      library joins their receipts into the message's. A receipt it does not know is
      answered with a placeholder, so the library does not log each one as uncorrelated.
    - Expired entries are looked for once a second, not on every PDU (a scan of every
      entry each time).
    """

    SWEEP_SECONDS = 1.0

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._next_sweep = 0.0
        # Sequence numbers recorded by the hook, whose later library ``put`` is skipped.
        self._early: dict[str, None] = {}
        self._unknown = SubmitSm(
            short_message="-",
            source=PhoneNumber("wallet"),
            destination=PhoneNumber("0"),
            log_id="receipt",
        )

    async def put_early(self, smpp_message: SmppMessage) -> None:
        await super().put(smpp_message)
        self._early[str(smpp_message.sequence_num)] = None
        while len(self._early) > 10_000:  # writes that failed leave theirs behind
            self._early.pop(next(iter(self._early)))

    async def put(self, smpp_message: SmppMessage) -> None:
        if self._early.pop(str(smpp_message.sequence_num), 0) is None:
            return
        await super().put(smpp_message)

    async def put_delivery(self, smsc_message_id: str, submit_sm: SubmitSm) -> None:
        if str(submit_sm.sequence_num) in self._segment_store:
            await super().put_delivery(smsc_message_id, submit_sm)

    async def get_delivery(self, receipt: DeliverSm) -> SubmitSm | None:
        return await super().get_delivery(receipt) or self._unknown

    async def _remove_expired(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            await super()._remove_expired()


class _Hook(AbstractHook):
    def __init__(self, client: SmppClient) -> None:
        self.client = client

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        # Recorded before the write, so its response always finds it (see _Correlator).
        if smpp_message.smpp_command in COMMAND_RESPONSE_MAP:
            await self.client.correlator.put_early(smpp_message)

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, SubmitSmResp):
            if smpp_message.log_id:
                self.client._resolve(smpp_message.log_id, smpp_message)
        elif isinstance(smpp_message, DeliverSm) and smpp_message.is_receipt():
            receipt = smpp_message.parse_receipt()
            message_id = str(receipt.get("id") or "")
            if message_id:
                await self.client.on_receipt(message_id, str(receipt.get("stat") or ""))

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        log_id = getattr(smpp_message, "log_id", "")
        if log_id:
            self.client._fail(log_id, error)


class _TlsTunnel:
    """127.0.0.1:<port> in this process, piped to the SMSC over TLS."""

    def __init__(self, host: str, port: int, ca: str) -> None:
        self.host, self.port = host, port
        self.context = ssl.create_default_context(cafile=ca or None)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        local: int = self._server.sockets[0].getsockname()[1]
        return local

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.context, server_hostname=self.host
            )
        except (OSError, ssl.SSLError) as exc:
            log.error("cannot reach the SMSC %s:%s over TLS: %s", self.host, self.port, exc)
            writer.close()
            return

        async def copy(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(65536):
                    target.write(chunk)
                    await target.drain()
            except (OSError, ssl.SSLError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    target.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


class SmppClient:
    """One bound transceiver session (reconnecting by itself) for this process."""

    def __init__(self, settings: settings_module.Settings, on_receipt: Receipt) -> None:
        self.settings = settings
        self.on_receipt = on_receipt
        self._pending: dict[str, asyncio.Future[SubmitSmResp]] = {}
        self.correlator = _Correlator(settings.smpp_system_id)
        if len(settings.smpp_password) > 8:
            # SMPP 3.4 carries at most 8 characters of password (a 9-octet C string).
            raise GiveUp("WALLET_SMPP_PASSWORD is longer than the 8 characters SMPP 3.4 allows")
        self.esme = ESME(
            smsc_host=settings.smpp_host,
            smsc_port=settings.smpp_port,
            system_id=settings.smpp_system_id,
            password=settings.smpp_password,
            hook=_Hook(self),
            correlator=self.correlator,
            custom_codecs={"gsm0338": _GsmCodec.get_codec_info()},
            enquire_link_interval=30.0,
            log_level="WARNING",
            # The library logs the session's system id and errors; never the password.
            log_metadata={"smsc_host": settings.smpp_host, "system_id": settings.smpp_system_id},
            rate_limiter=None,
            retry_timer=SimpleExponentialBackoff(
                min_delay=RECONNECT_FIRST_MS, max_increases=RECONNECT_DOUBLINGS
            ),
        )
        self.esme.rate_limiter = SimpleRateLimiter(
            logger=self.esme._logger, send_rate=float(settings.smpp_rate)
        )
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._tunnel = (
            _TlsTunnel(settings.smpp_host, settings.smpp_port, settings.smpp_ca)
            if settings.smpp_tls
            else None
        )

    async def start(self) -> None:
        if self._task is not None:
            return
        if self._tunnel is not None:
            # The ESME dials the tunnel's loopback end; the tunnel dials the SMSC.
            self.esme.smsc_host = "127.0.0.1"
            self.esme.smsc_port = await self._tunnel.start()
        # The session outlives whatever started it: it must not inherit its context (a
        # write transaction's connection would become every receipt writer's).
        self._task = asyncio.create_task(
            self.esme.start(), name="smpp-esme", context=contextvars.Context()
        )

    async def close(self) -> None:
        if self._task is None:
            return
        if self.esme.session_state == SmppSessionState.BOUND_TRX:
            try:
                await asyncio.wait_for(self.esme.stop(), 5)
            except (TimeoutError, OSError):
                pass
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):
            pass
        self._task = None
        if self._tunnel is not None:
            await self._tunnel.close()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RetryLater("the SMPP client closed"))

    @property
    def bound(self) -> bool:
        return self.esme.session_state == SmppSessionState.BOUND_TRX

    async def _wait_bound(self, seconds: float) -> bool:
        deadline = asyncio.get_running_loop().time() + seconds
        while not self.bound:
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def _resolve(self, log_id: str, response: SubmitSmResp) -> None:
        future = self._pending.get(log_id)
        if future is not None and not future.done():
            future.set_result(response)

    def _fail(self, log_id: str, error: Exception) -> None:
        future = self._pending.get(log_id)
        if future is not None and not future.done():
            future.set_exception(error)

    async def submit(self, *, log_id: str, phone: str, text: str, sender: str) -> str:
        """Send one message (split into concatenated parts when long); the SMSC's message
        id of its last part. ``RetryLater`` when the SMSC is down, slow or throttling;
        ``GiveUp`` when it refuses the message itself."""
        outcome = (await self.submit_many([(log_id, phone, text, sender)]))[log_id]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def submit_many(
        self, messages: list[tuple[str, str, str, str]]
    ) -> dict[str, str | RetryLater | GiveUp]:
        """Send (log id, phone, text, sender) messages side by side, with one wait for all
        their answers (a task and a timer per message cost a campaign more than the
        SMSC: bench/bench_sms.py). Per log id: the SMSC's message id of the last part, or
        ``RetryLater`` (down, slow, throttling) or ``GiveUp`` (refused; or unanswered,
        which may have been sent, so it is never retried). ``RetryLater`` is raised for all
        when no session is bound."""
        await self.start()
        if not await self._wait_bound(BIND_WAIT):
            raise RetryLater(
                f"not bound to the SMSC {self.settings.smpp_host}:{self.settings.smpp_port} "
                "(down, or refusing the bind: see the wallet.sms log)"
            )
        loop = asyncio.get_running_loop()
        futures: dict[str, asyncio.Future[SubmitSmResp]] = {}
        latency = observe.UPSTREAM_SECONDS.labels("smsc")  # looked up once, not per message
        try:
            for log_id, phone, text, sender in messages:
                future: asyncio.Future[SubmitSmResp] = loop.create_future()
                # The SMSC's latency: queued behind the bind's rate, to its answer (or the
                # give-up at RESPONSE_WAIT).
                future.add_done_callback(_timed_from(time.perf_counter(), latency))
                self._pending[log_id] = futures[log_id] = future
                await self.esme.broker.enqueue(
                    SubmitSm(
                        short_message=text,
                        source=PhoneNumber(sender),
                        destination=PhoneNumber(phone.lstrip("+")),
                        log_id=log_id,
                        encoding="gsm0338" if is_gsm(text) else "ucs2",
                        # Long texts as concatenated parts with a UDH (not message_payload,
                        # which many Russian operators' SMSCs do not forward to handsets).
                        esm_class=0x40,
                        auto_message_payload=False,
                        registered_delivery=1,
                    )
                )
            if futures:
                await asyncio.wait(futures.values(), timeout=RESPONSE_WAIT)
        finally:
            for log_id in futures:
                self._pending.pop(log_id, None)
        return {log_id: _outcome(future) for log_id, future in futures.items()}


def _timed_from(
    started: float, latency: Histogram
) -> Callable[[asyncio.Future[SubmitSmResp]], None]:
    def done(_future: asyncio.Future[SubmitSmResp]) -> None:
        latency.observe(time.perf_counter() - started)

    return done


def outcome_reason(outcome: RetryLater | GiveUp) -> str:
    """A short reason for the delivery metrics: the SMSC's status name (ESME_RINVDSTADR ...),
    ``no_answer`` (given up, may have gone), ``unreachable`` or ``error``."""
    text = str(outcome)
    if "(ESME_" in text or ": ESME_" in text:
        return "ESME_" + text.split("ESME_", 1)[1].rstrip(")").split()[0]
    if "submit_sm_resp" in text:
        return "no_answer"
    if isinstance(outcome, RetryLater):
        return "unreachable"
    return "error"


def _outcome(future: asyncio.Future[SubmitSmResp]) -> str | RetryLater | GiveUp:
    if not future.done():
        future.cancel()
        # The SMSC may have taken it: not retried, so nobody gets it twice.
        return GiveUp(
            f"no submit_sm_resp in {RESPONSE_WAIT:.0f}s; the message may or may not "
            "have been sent (check with the operator)"
        )
    if future.cancelled():
        return RetryLater("the send was cancelled before the SMSC answered")
    error = future.exception()
    if isinstance(error, (RetryLater, GiveUp)):
        return error
    if isinstance(error, TimeoutError):
        # The library's own wait for the answer ran out: as above.
        return GiveUp(f"no submit_sm_resp: the message may or may not have been sent ({error})")
    if isinstance(error, (ConnectionError, OSError)):
        return RetryLater(f"the SMSC connection failed while sending: {error}")
    if error is not None:
        return GiveUp(f"the message could not be sent: {type(error).__name__}: {error}")
    response = future.result()
    status = response.command_status
    if status == SmppCommandStatus.ESME_ROK:
        return str(response.message_id)
    if status in (SmppCommandStatus.ESME_RTHROTTLED, SmppCommandStatus.ESME_RMSGQFUL):
        return RetryLater(f"the SMSC is throttling us ({status.name})", 1.0)
    return GiveUp(f"the SMSC refused the message: {status.name}")


_client: SmppClient | None = None
_client_key: tuple[Any, ...] | None = None


def client(on_receipt: Receipt) -> SmppClient:
    """This process's client, made on first use in the running loop (and again when the
    settings name another SMSC, as tests do)."""
    global _client, _client_key
    s = settings_module.get()
    key = (
        s.smpp_host,
        s.smpp_port,
        s.smpp_system_id,
        s.smpp_password,
        s.smpp_rate,
        s.smpp_tls,
        s.smpp_ca,
    )
    if _client is None or _client_key != key:
        if _client is not None:
            log.warning("SMPP settings changed; the old session is dropped")
        _client = SmppClient(s, on_receipt)
        _client_key = key
    return _client


async def warm_up(on_receipt: Receipt, seconds: float) -> None:
    """Start this process's session ahead of its first message and wait up to ``seconds``
    for the bind (once: a session already started is not waited for, so an SMSC that is
    down costs this wait once per session)."""
    if not settings_module.get().smpp_host:
        return
    session = client(on_receipt)
    if session._task is not None or session._starting is not None:
        return
    session._starting = asyncio.get_running_loop().create_task(
        session.start(), context=contextvars.Context()
    )
    await session._wait_bound(seconds)


def ready(on_receipt: Receipt) -> bool:
    """Whether a message handed over now goes out at once: the session is bound (or no
    SMSC is configured: the log). A process without a session starts one here."""
    s = settings_module.get()
    if not s.smpp_host:
        return True
    session = client(on_receipt)
    if session._task is None and session._starting is None:
        session._starting = asyncio.get_running_loop().create_task(
            session.start(), context=contextvars.Context()
        )
    return session.bound


async def close() -> None:
    """Unbind and stop (the worker's shutdown, and tests between SMSC stand-ins)."""
    global _client, _client_key
    if _client is not None:
        await _client.close()
    _client, _client_key = None, None
