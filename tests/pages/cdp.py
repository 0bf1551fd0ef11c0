"""Headless Debian Chromium driven over the DevTools protocol (a websocket), nothing
downloaded: open a page at a phone's viewport, fill and submit forms, take screenshots."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets

CHROMIUM = "/usr/bin/chromium"


class Tab:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message and message["id"] in self.waiting:
                self.waiting.pop(message["id"]).set_result(message)
            elif "method" in message:
                await self.events.put(message)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[number] = future
        await self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})  # type: ignore[no-any-return]

    async def _loaded(self) -> None:
        while True:
            event = await asyncio.wait_for(self.events.get(), 30)
            if event["method"] == "Page.loadEventFired":
                return

    def _drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    async def open(self, url: str) -> None:
        self._drain()
        await self.send("Page.navigate", url=url)
        await self._loaded()

    async def js(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def fill(self, selector: str, value: str) -> None:
        await self.js(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")

    async def tick(self, selector: str) -> None:
        await self.js(f"document.querySelector({json.dumps(selector)}).checked = true")

    async def click_and_wait(self, selector: str) -> None:
        """Click like a finger would (the browser validates the form), then wait for the
        next page to load."""
        self._drain()
        await self.js(f"document.querySelector({json.dumps(selector)}).click()")
        await self._loaded()

    async def text(self, selector: str) -> str:
        value = await self.js(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''"
        )
        return str(value)

    async def url(self) -> str:
        return str(await self.js("location.href"))

    async def csp_violations(self) -> list[str]:
        """What the page's Content-Security-Policy blocked since it loaded."""
        found = await self.js("window.__cspViolations || []")
        return list(found)

    async def screenshot(self) -> bytes:
        shot = await self.send("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


@contextlib.asynccontextmanager
async def chromium(
    *, lang: str = "ru-RU,ru;q=0.9", camera: str | None = None
) -> AsyncIterator[Tab]:
    """A fresh headless Chromium with one tab at 390x844 (a phone), closed afterwards.
    ``camera``: a .y4m video the browser's camera films (permission granted)."""
    filming = (
        [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        ]
        if camera
        else []
    )
    # Chromium's helper processes may still be writing the profile as the main one exits;
    # the whole process group is stopped, and leftovers never fail the test.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(  # noqa: ASYNC220 - its stderr is read from a thread
            [
                CHROMIUM,
                "--headless=new",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                *filming,
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            port = await asyncio.wait_for(asyncio.to_thread(_devtools_port, process), 30)
            async with httpx.AsyncClient() as http:
                pages = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            target = next(p for p in pages if p["type"] == "page")
            async with websockets.connect(
                target["webSocketDebuggerUrl"], max_size=50_000_000
            ) as ws:
                tab = Tab(ws)
                await tab.send("Page.enable")
                # Runs before any page content, so every blocked style, image or script of
                # every page is counted (Tab.csp_violations).
                await tab.send(
                    "Page.addScriptToEvaluateOnNewDocument",
                    source="window.__cspViolations = [];"
                    "document.addEventListener('securitypolicyviolation', e =>"
                    " window.__cspViolations.push("
                    "e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline')));",
                )
                await tab.send("Network.enable")
                await tab.send("Network.setExtraHTTPHeaders", headers={"Accept-Language": lang})
                await tab.send(
                    "Emulation.setDeviceMetricsOverride",
                    width=390,
                    height=844,
                    deviceScaleFactor=1,
                    mobile=True,
                )
                try:
                    yield tab
                finally:
                    tab.reader.cancel()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _devtools_port(process: subprocess.Popen[str]) -> int:
    assert process.stderr is not None
    for raw in process.stderr:
        if "DevTools listening on ws://" in raw:
            address = raw.split("ws://", 1)[1]
            return int(address.split("/", 1)[0].rsplit(":", 1)[1])
    raise RuntimeError("chromium exited before it opened the DevTools port")
