"""A stand-in Google Wallet API (walletobjects/v1) on loopback.

It checks the bearer (a JWT signed by the dev service account, audience the Wallet API),
checks every body against Google's discovery document (tests/support/google_schema.py),
and answers with Google's status codes: 200 on success, 409 on inserting an id that
exists, 404 on patching one that does not, 400 on a body Google would refuse, 403
quotaExceeded on a 4th TEXT_AND_NOTIFY message in 24 hours. ``fail_next`` makes the next
calls answer a given status (429, 503).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from google.auth import jwt as google_jwt
from hypercorn.asyncio import serve
from hypercorn.config import Config

from tests.support.google_schema import validate

AUDIENCE = "https://walletobjects.googleapis.com/"
PREFIX = "/walletobjects/v1/"


@dataclass
class Call:
    method: str
    path: str
    status: int
    body: dict[str, Any]


@dataclass
class GoogleStandIn:
    public_key_pem: bytes
    url: str = ""
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def statuses(self, method: str, prefix: str = "") -> list[int]:
        return [c.status for c in self.calls if c.method == method and c.path.startswith(prefix)]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"].removeprefix(PREFIX)
        body = json.loads(raw) if raw else {}
        status, reply = self.handle(method, path, body, headers.get("authorization", ""))
        self.calls.append(Call(method, path, status, body))
        data = json.dumps(reply).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def _error(self, status: int, reason: str, text: str) -> tuple[int, dict[str, Any]]:
        return status, {"error": {"code": status, "message": text, "errors": [{"reason": reason}]}}

    def handle(
        self, method: str, path: str, body: dict[str, Any], authorization: str
    ) -> tuple[int, dict[str, Any]]:
        scheme, _sep, token = authorization.partition(" ")
        try:
            if scheme != "Bearer":
                raise ValueError("no bearer")
            google_jwt.decode(token, certs=self.public_key_pem, audience=AUDIENCE)
        except Exception as exc:
            return self._error(401, "authError", f"invalid credentials: {exc}")
        if self.fail_next:
            status = self.fail_next.pop(0)
            return self._error(
                status, "rateLimitExceeded" if status == 429 else "backendError", "try later"
            )
        parts = path.split("/")
        if method == "POST" and path == "loyaltyClass":
            return self._insert(self.classes, "LoyaltyClass", body)
        if method == "POST" and path == "loyaltyObject":
            return self._insert(self.objects, "LoyaltyObject", body)
        if method == "PATCH" and len(parts) == 2 and parts[0] == "loyaltyObject":
            problems = validate("LoyaltyObject", body, patch=True)
            if problems:
                self.problems += problems
                return self._error(400, "invalid", "; ".join(problems))
            if parts[1] not in self.objects:
                return self._error(404, "resourceNotFound", f"no object {parts[1]}")
            self.objects[parts[1]] = {**self.objects[parts[1]], **body}
            return 200, self.objects[parts[1]]
        if method == "POST" and len(parts) == 3 and parts[2] == "addMessage":
            problems = validate("AddMessageRequest", body)
            if problems:
                self.problems += problems
                return self._error(400, "invalid", "; ".join(problems))
            if parts[1] not in self.objects:
                return self._error(404, "resourceNotFound", f"no object {parts[1]}")
            kept = self.messages.setdefault(parts[1], [])
            notifying = [m for m in kept if m["messageType"] == "TEXT_AND_NOTIFY"]
            if body["message"]["messageType"] == "TEXT_AND_NOTIFY" and len(notifying) >= 3:
                return self._error(403, "quotaExceeded", "too many notifications")
            kept.append(body["message"])
            return 200, {"resource": self.objects[parts[1]]}
        return self._error(404, "notFound", f"no route {method} {path}")

    def _insert(
        self, store: dict[str, dict[str, Any]], schema: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        problems = validate(schema, body)
        if problems:
            self.problems += problems
            return self._error(400, "invalid", "; ".join(problems))
        if body["id"] in store:
            return self._error(409, "duplicate", f"{body['id']} already exists")
        store[body["id"]] = body
        return 200, body


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def running_google(certs_dir: Path) -> AsyncIterator[GoogleStandIn]:
    info = json.loads((certs_dir / "google-service-account.json").read_text())
    key = serialization.load_pem_private_key(info["private_key"].encode(), None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    standin = GoogleStandIn(public_key_pem=public)
    port = _free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(standin, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    standin.url = f"http://127.0.0.1:{port}/walletobjects/v1"
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
