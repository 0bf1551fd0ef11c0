"""How ``wallet serve`` reads HTTP from strangers: uvicorn's h11 protocol, whose request
line and headers are bounded (``h11_max_incomplete_event_size``: a header flood is answered
400 and closed, where httptools buffered 5 MB of headers without complaint), plus a
deadline for each request head.

uvicorn times out only idle keep-alive connections, and any byte received resets that; a
client that connects and trickles its headers a byte at a time ("slowloris") holds its
connection for ever. Here a connection whose request line and headers are not complete
within ``WALLET_HEADER_TIMEOUT_SECONDS`` of connecting, or of its previous answer, is
closed. A request whose head has arrived is never cut (its body is bounded by
``WALLET_MAX_BODY_BYTES``)."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from wallet import settings as settings_module


class BoundedH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_seconds = float(settings_module.get().header_timeout_seconds)
        self.head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()  # the next request's head, on a kept-alive connection

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self.head_deadline = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_too_slow(self) -> None:
        self.head_deadline = None
        # IDLE: h11 has not yet seen a whole request line and headers from the client.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """The limits ``wallet serve`` gives uvicorn, from the settings."""
    cfg = settings_module.get()
    return {
        "http": BoundedH11Protocol,
        "h11_max_incomplete_event_size": cfg.max_header_bytes,
    }
