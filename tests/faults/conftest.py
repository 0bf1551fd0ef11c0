"""What the fault scenarios share: the real ``wallet worker`` in its own process (started,
SIGKILLed, started again) and a loopback SMTP server that can be slow to answer or down."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import Database
from tests.passsync.conftest import wallets  # noqa: F401 - a fixture, shared
from wallet import settings as settings_module

ROOT = Path(__file__).resolve().parents[2]
# Short leases, so a killed worker's work comes back in seconds (the setting's floor).
LEASE_SECONDS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """aiosmtpd on loopback that keeps what it receives. ``answer_after`` seconds pass
    between receiving a message and answering 250 (the window in which a killed sender has
    delivered a message it does not know was accepted); ``down()`` answers 450 to every new
    recipient until ``up()``, and so does every one after ``refuse_after`` messages;
    ``stop()`` closes the port (connections refused) until ``start()``."""

    port: int
    answer_after: float = 0.0
    messages: list[Any] = field(default_factory=list)
    refusing: bool = False
    refuse_after: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Any = None
    handler: Any = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Any]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def per_address(self) -> dict[str, int]:
        found: dict[str, int] = {}
        with self.lock:
            for message in self.messages:
                found[message["To"]] = found.get(message["To"], 0) + 1
        return found

    def down(self) -> None:
        self.refusing = True

    def up(self) -> None:
        self.refusing = False
        self.refuse_after = None


@pytest.fixture
async def mailbox(database: Database) -> AsyncIterator[Mailbox]:
    box = Mailbox(port=free_port())

    class Keep:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            if box.refuse_after is not None and box.count() >= box.refuse_after:
                box.refusing = True
            if box.refusing:
                # 450 keeps the session open (a 421 must be followed by closing it,
                # which aiosmtpd's hook cannot do).
                return "450 4.3.2 busy, try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            with box.lock:
                box.messages.append(message)
            if box.answer_after:
                await asyncio.sleep(box.answer_after)
            return "250 OK"

    box.handler = Keep()
    box.start()
    settings_module.override(
        dataclasses.replace(settings_module.get(), smtp_host="127.0.0.1", smtp_port=box.port)
    )
    try:
        yield box
    finally:
        box.stop()


@dataclass
class Workers:
    """``wallet worker`` processes on the test's database and mailbox."""

    env: dict[str, str]
    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, **extra_env: str) -> subprocess.Popen[bytes]:
        # The mail server as the test's settings have it now (a fixture may have set it).
        settings = settings_module.get()
        mail = (
            {"WALLET_SMTP_HOST": settings.smtp_host, "WALLET_SMTP_PORT": str(settings.smtp_port)}
            if settings.smtp_host
            else {}
        )
        log = (self.logs / f"worker-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "wallet", "worker"],
            cwd=ROOT,
            env={**self.env, **mail, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,  # a file: a full pipe would stall the worker's logging
        )
        log.close()
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL: no handler runs, nothing is handed back or flushed."""
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def log_of(self, n: int) -> str:
        return (self.logs / f"worker-{n}.log").read_text(errors="replace")


@pytest.fixture
def workers(database: Database, certs_dir: Path, tmp_path: Path) -> Iterator[Workers]:
    settings = settings_module.get()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WALLET_DATABASE_URL": database.url,
        "WALLET_BASE_URL": settings.base_url,
        "WALLET_CERTS_DIR": str(certs_dir),
        "WALLET_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "WALLET_DB_POOL_SIZE": "4",
        "WALLET_LOG_LEVEL": "INFO",
    }
    found = Workers(env=env, logs=tmp_path)
    try:
        yield found
    finally:
        for process in found.started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
