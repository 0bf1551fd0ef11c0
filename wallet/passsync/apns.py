"""APNs for passes: HTTP/2, TLS client authentication with the Pass Type ID certificate.

Apple's Wallet Developer Guide ("Updating a pass"): the push goes to the device's push
token with the pass type identifier as the topic and an empty JSON dictionary as the
payload; the device then asks our web service what changed. One client per process keeps
one connection open and multiplexes many streams over it.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import h2.connection
import httpx

from wallet import observe, runtime

log = logging.getLogger("wallet.apns")

# h2 remembers the last 65,536 closed streams of a connection, to answer frames that
# arrive late on them. A push is a stream, so the one long-lived APNs connection held the
# records of every push of a campaign up to that many: 30 MB more resident memory at
# 100,000 pushes than at 10,000 (bench/bench_campaigns.py; 92 MB at 30,000 with this
# limit, the same as at 10,000). A late frame on a forgotten stream is still refused
# cleanly (h2 knows the ids it has used). The attribute is h2's own, class-wide.
h2.connection.H2Connection.MAX_CLOSED_STREAMS = 4096

# What a pass push carries: nothing. The device fetches the changes itself.
EMPTY_PAYLOAD = b"{}"


class Outcome(Enum):
    SENT = "sent"
    # 410 Unregistered, or 400 BadDeviceToken / DeviceTokenNotForTopic: the registration
    # is dead; delete it.
    GONE = "gone"
    # 429 or 5xx or a broken connection: try again later.
    RETRY = "retry"
    # Any other refusal (403 a bad certificate, 413...): retrying cannot help.
    FAILED = "failed"


_GONE_REASONS = {"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"}


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int
    reason: str
    # Seconds the receiver asked us to wait (a 429's or 503's Retry-After), if it said.
    retry_after: float | None = None


def retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds (RFC 9110: a number of seconds or an HTTP date);
    None when absent or unreadable. At most an hour: a receiver's typo must not park the
    pushes for a week."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), 3600.0)
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from wallet import clock

    if moment.tzinfo is None:
        return None
    return min(max((moment - clock.now()).total_seconds(), 0.0), 3600.0)


class ApnsClient:
    def __init__(self, *, base_url: str, cert: Path, key: Path, ca: str | None, topic: str) -> None:
        context = ssl.create_default_context(cafile=ca or None)
        context.load_cert_chain(str(cert), str(key))
        self.topic = topic
        self.base_url = base_url.rstrip("/")
        # One connection, many streams: httpx multiplexes HTTP/2 requests on it.
        self._http = httpx.AsyncClient(
            http2=True,
            verify=context,
            timeout=httpx.Timeout(10.0, connect=5.0),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def push(self, push_token: str) -> Result:
        result = await self._push(push_token)
        if result.outcome is Outcome.SENT:
            observe.delivered("apns", "sent")
        else:
            observe.delivered("apns", "failed", result.reason if result.status else "unreachable")
        return result

    async def _push(self, push_token: str) -> Result:
        try:
            with observe.timed("apns"):
                reply = await self._http.post(
                    f"{self.base_url}/3/device/{push_token}",
                    content=EMPTY_PAYLOAD,
                    headers={"apns-topic": self.topic, "content-type": "application/json"},
                )
        except httpx.HTTPError as exc:
            return Result(Outcome.RETRY, 0, f"{type(exc).__name__}: {exc}")
        reason = ""
        if reply.status_code != 200:
            try:
                reason = str(reply.json().get("reason", ""))
            except ValueError:
                reason = reply.text[:200]
        status = reply.status_code
        if status == 200:
            return Result(Outcome.SENT, status, "")
        if status == 410 or (status == 400 and reason in _GONE_REASONS):
            return Result(Outcome.GONE, status, reason)
        if status == 429 or status >= 500:
            return Result(
                Outcome.RETRY, status, reason, retry_after(reply.headers.get("retry-after"))
            )
        return Result(Outcome.FAILED, status, reason)

    async def close(self) -> None:
        await self._http.aclose()


def client() -> ApnsClient:
    """The runtime's APNs client for its settings and event loop (closed with it)."""
    running = runtime.current()
    cfg = running.settings
    key = ("apns", cfg.apns_url, str(cfg.certs_dir), cfg.apns_ca, cfg.pass_type_id)
    return running.client(
        (*key, runtime.loop_id()),
        lambda: ApnsClient(
            base_url=cfg.apns_url,
            cert=cfg.certs_dir / "pass-cert.pem",
            key=cfg.certs_dir / "pass-key.pem",
            ca=cfg.apns_ca or None,
            topic=cfg.pass_type_id,
        ),
    )


async def close_all() -> None:
    """Close the runtime's APNs clients now (the next push opens a new connection)."""
    await runtime.current().close_clients("apns")
