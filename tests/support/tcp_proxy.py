"""A TCP proxy on loopback in front of a real server, that the test can cut.

It stands for a database server going away without restarting the machine's shared
PostgreSQL: ``cut()`` aborts every open connection mid-query (as a ``pg_ctl restart -m
fast`` does), ``down()`` refuses new ones until ``up()``.
"""

from __future__ import annotations

import asyncio
import contextlib


def _error_response(*fields: tuple[bytes, str]) -> bytes:
    body = b"".join(kind + text.encode() + b"\0" for kind, text in fields) + b"\0"
    return b"E" + (len(body) + 4).to_bytes(4, "big") + body


FATAL_SHUTDOWN = _error_response(
    (b"S", "FATAL"),
    (b"V", "FATAL"),
    (b"C", "57P01"),
    (b"M", "terminating connection due to administrator command"),
)


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._refusing = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Close every open connection as PostgreSQL does when it is stopped ``-m fast``:
        the client is told FATAL 57P01 "terminating connection due to administrator
        command" (usually in the middle of its query), then the socket closes."""
        self.cuts += 1
        for client, server in list(self._links):
            server.transport.abort()
            client.write(FATAL_SHUTDOWN)
            client.close()
        self._links.clear()

    def down(self) -> None:
        self._refusing = True
        self.cut()

    def up(self) -> None:
        self._refusing = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._links.discard(link)
            up_writer.transport.abort()
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()  # one side ended: end the other, so no server session lingers
