"""A «Кошелёк» stand-in: it calls our service exactly as the public protocol describes
(Basic auth, OR search, empty body when not found, 422 with code and description) and runs
its Push API on a loopback HTTP server (hypercorn, in the test's event loop) that records
every push and answers MSISDN_NOT_REGISTERED for phones nobody issued a card with."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config

LOGIN, PASSWORD = "koshelek-partner", "s3cret-пароль"
PUSH_LOGIN, PUSH_PASSWORD = "chain-push", "push-pass"


def basic(login: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Koshelek:
    """Кошелёк's side of the calls to the partner's service."""

    client: httpx.AsyncClient
    prefix: str = "/koshelek/v1"
    login: str = LOGIN
    password: str = PASSWORD

    @property
    def auth(self) -> dict[str, str]:
        return basic(self.login, self.password)

    async def search(self, **params: str) -> httpx.Response:
        return await self.client.get(f"{self.prefix}/card", params=params, headers=self.auth)

    async def issue(self, **body: Any) -> httpx.Response:
        return await self.client.post(f"{self.prefix}/card/anonymous", json=body, headers=self.auth)

    async def channels(
        self, card: str, allow: list[str] | None = None, deny: list[str] | None = None
    ) -> httpx.Response:
        return await self.client.put(
            f"{self.prefix}/card/{card}/communication",
            json={"allow": allow or [], "deny": deny or []},
            headers=self.auth,
        )

    async def callback(self, message_id: str, state: str) -> httpx.Response:
        return await self.client.post(
            f"{self.prefix}/push/callback",
            json={"messageId": message_id, "state": state},
            headers=self.auth,
        )


@dataclass
class PushApi:
    url: str = ""
    pushes: list[dict[str, Any]] = field(default_factory=list)
    # Phones of Кошелёк users (pushes to others: MSISDN_NOT_REGISTERED).
    registered: set[int] = field(default_factory=set)
    refused_auth: int = 0

    def of_type(self, push_type: str) -> list[dict[str, Any]]:
        return [p for p in self.pushes if p["pushType"] == push_type]

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
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if headers.get("authorization") != basic(PUSH_LOGIN, PUSH_PASSWORD)["Authorization"]:
            self.refused_auth += 1
            await self._answer(send, 401, {"error": "unauthorized"})
            return
        if scope["method"] != "POST" or scope["path"] != "/push/delivery":
            await self._answer(send, 404, {"error": "no such resource"})
            return
        push = json.loads(body)
        self.pushes.append(push)
        state = "ENQUEUED" if push["msisdn"] in self.registered else "MSISDN_NOT_REGISTERED"
        await self._answer(send, 200, {"messageId": str(uuid.uuid4()), "state": state})

    @staticmethod
    async def _answer(send: Any, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})


@asynccontextmanager
async def running_push_api() -> AsyncIterator[PushApi]:
    standin = PushApi()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(standin, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    standin.url = f"http://127.0.0.1:{port}"
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
