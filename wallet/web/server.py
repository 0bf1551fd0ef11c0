"""How ``wallet serve`` reads HTTP from strangers: uvicorn's httptools protocol with two
bounds uvicorn lacks.

- The request line and headers together may be at most ``WALLET_MAX_HEADER_BYTES``: more
  is answered 400 and the connection closed. httptools buffered 5 MB of headers without
  complaint. (uvicorn's h11 parser has such a bound, but it answered 1,500 requests/s to
  httptools' 5,300 on the same trivial app under wrk on this machine: not worth it.)
- A request head must be complete within ``WALLET_HEADER_TIMEOUT_SECONDS`` of connecting
  or of the previous answer on the connection (give or take that much again: each
  connection's one timer looks every so often), or the connection is closed. uvicorn times
  out only idle keep-alive connections and any byte received resets that, so a client
  trickling its headers a byte at a time ("slowloris") held its connection for ever.

A request whose head has arrived is never cut here; its body is bounded by
``WALLET_MAX_BODY_BYTES`` (the app's 413)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from wallet import settings as settings_module


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = settings_module.get()
        self.head_limit = cfg.max_header_bytes
        self.head_seconds = float(cfg.header_timeout_seconds)
        # Reading a request head (its line and headers), how many bytes of it so far, and
        # since when the client owes us one (connected, or its previous answer sent).
        self.in_head = True
        self.head_bytes = 0
        self.head_since = 0.0
        self.messages = 0  # requests read whole on this connection
        # One timer a connection, looked at every ``head_seconds``, not one a request:
        # arming and cancelling a timer per request cost a visible share of a trivial
        # request's time.
        self.head_check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_since = self.loop.time()
        self.head_check = self.loop.call_later(self.head_seconds, self._check_head)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.head_check is not None:
            self.head_check.cancel()
            self.head_check = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        was_in_head, messages = self.in_head, self.messages
        super().data_received(data)
        if (
            was_in_head
            and self.in_head
            and self.messages == messages
            and not self.transport.is_closing()
        ):
            # A chunk read wholly inside a request head counts against the bound (one that
            # ended a body and began the next head is let go: a pipelining client).
            self.head_bytes += len(data)
            if self.head_bytes > self.head_limit:
                self.send_400_response("Request line and headers too large.")

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.messages += 1
        self.in_head, self.head_bytes = True, 0  # what follows is the next request's head

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.head_since = self.loop.time()

    def _check_head(self) -> None:
        self.head_check = None
        if self.transport.is_closing():
            return
        waiting = self.in_head and (self.cycle is None or self.cycle.response_complete)
        overdue = self.loop.time() - self.head_since - self.head_seconds
        if waiting and overdue >= 0:
            self.transport.close()
            return
        wait = -overdue if waiting else self.head_seconds
        self.head_check = self.loop.call_later(max(wait, 0.05), self._check_head)


def uvicorn_options() -> dict[str, Any]:
    """What ``wallet serve`` gives uvicorn besides the app and the address."""
    return {"http": BoundedHttpToolsProtocol}
