"""An SMSC stand-in on loopback that speaks SMPP 3.4 on the wire, written from the
specification (not from the client library), so the client is checked against real PDUs.

It answers bind_transceiver (refusing a wrong password with ESME_RINVPASWD),
enquire_link, unbind and submit_sm; refuses the first ``throttle_first`` submits with
ESME_RTHROTTLED; and after each accepted submit sends a ``deliver_sm`` delivery receipt
(``stat:DELIVRD`` unless the destination is in ``fail_to``: ``UNDELIV``).
Every submit it accepted is kept in ``submits`` with its decoded text and UDH.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from dataclasses import dataclass, field

BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
GENERIC_NACK = 0x80000000

ESME_ROK = 0x00
ESME_RINVCMDID = 0x03
ESME_RINVPASWD = 0x0E
ESME_RTHROTTLED = 0x58


def _cstring(body: bytes, at: int) -> tuple[str, int]:
    end = body.index(b"\x00", at)
    return body[at:end].decode("latin-1"), end + 1


def _pdu(command: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command, status, sequence) + body


@dataclass
class Submit:
    source: str
    destination: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    udh: bytes
    text: str
    message_id: str


@dataclass
class SmscStandin:
    system_id: str = "wallet"
    password: str = "secret"
    throttle_first: int = 0
    fail_to: set[str] = field(default_factory=set)
    host: str = "127.0.0.1"
    port: int = 0
    submits: list[Submit] = field(default_factory=list)
    binds: int = 0
    refused_binds: int = 0
    enquire_links: int = 0
    throttled: int = 0
    receipts_acked: int = 0
    # False: count accepted submits in ``accepted`` without keeping them (benches).
    record: bool = True
    accepted: int = 0
    # Serve SMPP over TLS with this context (None: plain TCP).
    tls: ssl.SSLContext | None = None
    _server: asyncio.AbstractServer | None = None
    _sequence: int = 0x10000
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> SmscStandin:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            await self._server.wait_closed()

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        bound = False
        try:
            while True:
                header = await reader.readexactly(16)
                length, command, _status, sequence = struct.unpack(">IIII", header)
                body = await reader.readexactly(length - 16)
                if command == BIND_TRANSCEIVER:
                    system_id, at = _cstring(body, 0)
                    password, at = _cstring(body, at)
                    if (system_id, password) != (self.system_id, self.password):
                        self.refused_binds += 1
                        writer.write(_pdu(BIND_TRANSCEIVER_RESP, ESME_RINVPASWD, sequence))
                        await writer.drain()
                        continue
                    bound = True
                    self.binds += 1
                    writer.write(_pdu(BIND_TRANSCEIVER_RESP, ESME_ROK, sequence, b"SMSC\x00"))
                elif command == ENQUIRE_LINK:
                    self.enquire_links += 1
                    writer.write(_pdu(ENQUIRE_LINK_RESP, ESME_ROK, sequence))
                elif command == UNBIND:
                    writer.write(_pdu(UNBIND_RESP, ESME_ROK, sequence))
                    await writer.drain()
                    return
                elif command == DELIVER_SM_RESP:
                    self.receipts_acked += 1
                elif command == SUBMIT_SM and bound:
                    await self._submit(writer, body, sequence)
                else:
                    writer.write(_pdu(GENERIC_NACK, ESME_RINVCMDID, sequence))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def _submit(self, writer: asyncio.StreamWriter, body: bytes, sequence: int) -> None:
        if self.throttled < self.throttle_first:
            self.throttled += 1
            writer.write(_pdu(SUBMIT_SM_RESP, ESME_RTHROTTLED, sequence))
            return
        _service_type, at = _cstring(body, 0)
        at += 2  # source_addr_ton, source_addr_npi
        source, at = _cstring(body, at)
        at += 2
        destination, at = _cstring(body, at)
        esm_class, _protocol_id, _priority = body[at], body[at + 1], body[at + 2]
        at += 3
        _schedule, at = _cstring(body, at)
        _validity, at = _cstring(body, at)
        registered_delivery, _replace, data_coding, _default_id, sm_length = body[at : at + 5]
        at += 5
        short_message = body[at : at + sm_length]
        udh = b""
        if esm_class & 0x40:
            udh = short_message[: short_message[0] + 1]
            short_message = short_message[len(udh) :]
        if data_coding == 8:
            text = short_message.decode("utf-16-be")
        else:
            text = short_message.decode("latin-1")
        self.accepted += 1
        message_id = f"m{self.accepted:06d}"
        if self.record:
            self.submits.append(
                Submit(
                    source,
                    destination,
                    data_coding,
                    esm_class,
                    registered_delivery,
                    udh,
                    text,
                    message_id,
                )
            )
        writer.write(_pdu(SUBMIT_SM_RESP, ESME_ROK, sequence, message_id.encode() + b"\x00"))
        if registered_delivery & 0x01:
            stat = "UNDELIV" if destination in self.fail_to else "DELIVRD"
            err = "001" if stat == "UNDELIV" else "000"
            receipt = (
                f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
                f"submit date:2611301200 done date:2611301200 stat:{stat} err:{err} text:"
            ).encode()
            deliver = (
                b"\x00"  # service_type
                + b"\x01\x01"
                + destination.encode()
                + b"\x00"
                + b"\x00\x00"
                + source.encode()
                + b"\x00"
                + bytes([0x04, 0, 0])  # esm_class: SMSC delivery receipt
                + b"\x00\x00"
                + bytes([0, 0, 0, 0, len(receipt)])
                + receipt
                # TLVs: receipted_message_id (0x001E), message_state (0x0427)
                + struct.pack(">HH", 0x001E, len(message_id) + 1)
                + message_id.encode()
                + b"\x00"
                + struct.pack(">HHB", 0x0427, 1, 5 if stat == "UNDELIV" else 2)
            )
            writer.write(_pdu(DELIVER_SM, ESME_ROK, self._next_sequence(), deliver))

    def texts_to(self, destination: str) -> list[str]:
        return [s.text for s in self.submits if s.destination == destination]
