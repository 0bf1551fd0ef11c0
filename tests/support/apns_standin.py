"""A stand-in APNs: HTTP/2 over TLS on loopback, demanding a client certificate from the
dev PKI, recording every push. It runs in the caller's event loop (hypercorn's asyncio
``serve``), so tests share the loop with the PostgreSQL pool.

``answers`` maps a push token to the (status, reason) to give it, e.g. 410 "Unregistered".
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config


@dataclass
class Push:
    token: str
    topic: str | None
    push_type: str | None
    body: bytes
    http_version: str
    at: float


@dataclass
class ApnsStandIn:
    url: str = ""
    pushes: list[Push] = field(default_factory=list)
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)
    # Every push to any token answers this first N times (429/503 tests); a third item
    # is sent as Retry-After.
    fail_next: list[tuple[int, str] | tuple[int, str, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # Benchmarks of 100,000 pushes keep only these (record=False), so what they measure of
    # memory is the sender's, not a list of pushes kept here in the same process.
    record: bool = True
    received: int = 0
    first_at: float = 0.0
    last_at: float = 0.0

    def reset(self) -> None:
        self.pushes.clear()
        self.received, self.first_at, self.last_at = 0, 0.0, 0.0

    def to(self, token: str) -> list[Push]:
        return [p for p in self.pushes if p.token == token]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, reason, wait = 200, "", ""
        if scope["method"] != "POST" or not path.startswith("/3/device/"):
            status, reason = 404, "BadPath"
        else:
            token = path.removeprefix("/3/device/")
            if self.fail_next:
                status, reason, *rest = self.fail_next.pop(0)
                wait = rest[0] if rest else ""
            elif token in self.answers:
                status, reason = self.answers[token]
            else:
                at = time.perf_counter()
                self.received += 1
                self.first_at = self.first_at or at
                self.last_at = at
                if self.record:
                    self.pushes.append(
                        Push(
                            token=token,
                            topic=headers.get("apns-topic"),
                            push_type=headers.get("apns-push-type"),
                            body=body,
                            http_version=scope["http_version"],
                            at=at,
                        )
                    )
                self.arrived.set()
        reply = b"" if status == 200 else json.dumps({"reason": reason}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"apns-id", b"00000000-0000-0000-0000-000000000000")]
                + ([(b"retry-after", wait.encode())] if wait else []),
            }
        )
        await send({"type": "http.response.body", "body": reply})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def client_ca_file(certs_dir: Path, folder: Path) -> Path:
    """The trust anchors APNs stands in for: the dev root and its WWDR intermediate (a
    client sends only its leaf, as with Apple, who knows its own WWDR)."""
    path = folder / "apns-client-ca.pem"
    path.write_bytes(
        (certs_dir / "apple-root.pem").read_bytes() + (certs_dir / "wwdr.pem").read_bytes()
    )
    return path


@asynccontextmanager
async def running_apns(certs_dir: Path, folder: Path) -> AsyncIterator[ApnsStandIn]:
    standin = ApnsStandIn()
    port = _free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile = str(certs_dir / "server-cert.pem")
    config.keyfile = str(certs_dir / "server-key.pem")
    config.ca_certs = str(client_ca_file(certs_dir, folder))
    config.verify_mode = ssl.CERT_REQUIRED
    config.alpn_protocols = ["h2"]
    config.accesslog = None
    config.errorlog = None
    config.h2_max_concurrent_streams = 1000
    config.keep_alive_timeout = 300
    # Hypercorn closes a connection after 1,000 requests by default; APNs does not.
    config.keep_alive_max_requests = 10**9
    stop = asyncio.Event()
    task = asyncio.create_task(serve(standin, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    standin.url = f"https://127.0.0.1:{port}"
    for _ in range(100):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.02)
    try:
        yield standin
    finally:
        stop.set()
        await task
