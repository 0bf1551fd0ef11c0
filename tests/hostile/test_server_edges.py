"""Bad input at the edge of the real ``wallet serve`` process: a body over the limit, JSON
nested deep, bytes that are not UTF-8, a flood of headers, clients that send their request
a byte at a time. Each is refused or cut off, and the service goes on answering others."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Database

HEADER_TIMEOUT = 2
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(database: Database, certs_dir: Path, tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WALLET_DATABASE_URL": database.url,
        "WALLET_EMBEDDED_WORKER": "false",
        "WALLET_CERTS_DIR": str(certs_dir),
        "WALLET_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "WALLET_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "wallet", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.2)
        yield base, port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _still_answers(base: str) -> None:
    started = time.monotonic()
    assert httpx.get(f"{base}/health", timeout=5).status_code == 200
    assert time.monotonic() - started < 2


def _post_json(base: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/cards",
        content=content,
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )


def test_a_body_over_the_limit_is_413_with_an_error_reply(served):
    base, _port = served
    body = b'{"name": "' + b"a" * (1_048_576) + b'"}'
    reply = _post_json(base, body)
    assert reply.status_code == 413, reply.text
    assert reply.json()["code"] == "request_too_large"
    # Chunked, with no length said up front: cut off as it grows past the limit.
    reply = httpx.post(
        f"{base}/api/v1/cards",
        content=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 413, reply.text
    _still_answers(base)


def test_json_nested_deep_and_bytes_that_are_not_utf8_are_400(served):
    base, _port = served
    deep = _post_json(base, b"[" * 200_000)
    assert deep.status_code == 400 and deep.json()["code"], deep.text
    latin1 = _post_json(base, '{"name": "Ёлка", "email": "a@example.ru"}'.encode("cp1251"))
    assert latin1.status_code == 400 and latin1.json()["code"], latin1.text
    _still_answers(base)


def test_a_header_flood_is_refused_and_the_connection_closed(served):
    base, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as flood:
        flood.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        try:
            for n in range(2_000):  # 2 MB of headers
                flood.sendall(b"X-Flood-%d: %s\r\n" % (n, b"a" * 1000))
            flood.sendall(b"\r\n")
        except OSError:
            pass  # the server closed on us mid-flood: what we want
        answer = b""
        try:
            while chunk := flood.recv(4096):
                answer += chunk
        except OSError:
            pass
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:100]
    _still_answers(base)


def test_clients_sending_their_request_a_byte_at_a_time_are_cut_off(served):
    base, port = served
    slow = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(50)]
    try:
        for connection in slow:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed: set[int] = set()
        while len(closed) < len(slow) and time.monotonic() - started < HEADER_TIMEOUT + 5:
            _still_answers(base)  # others are answered meanwhile
            for n, connection in enumerate(slow):
                if n in closed:
                    continue
                try:
                    connection.sendall(b"X-Slow: a\r\n")  # never the blank line
                    connection.settimeout(0.01)
                    if connection.recv(1) == b"":
                        closed.add(n)
                except (BlockingIOError, TimeoutError):
                    pass
                except OSError:
                    closed.add(n)
            time.sleep(0.3)
        waited = time.monotonic() - started
        assert len(closed) == len(slow), f"{len(closed)} of {len(slow)} cut off in {waited:.1f} s"
        assert waited < HEADER_TIMEOUT + 3
    finally:
        for connection in slow:
            connection.close()
    _still_answers(base)
