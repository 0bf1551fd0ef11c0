"""A pytest plugin: every log record the test session's own process emits is searched for
card numbers, emails, phone numbers, staff keys and shopper tokens; any found fails the
session (exit status 1) and is listed in the summary, whatever slice of the suite ran.

What it sees: the records of this process at the level each logger emits in the suite
(INFO and up for our loggers, DEBUG where a test lowers it, as
``tests/privacy/test_no_personal_data_in_logs.py`` does). What it does not: the output of
processes the tests start (uvicorn for schemathesis, several workers, the CLI), and six-digit
codes, which look like any other number (the DEBUG slice test checks the codes it used).

Left out on purpose: the test's own SMTP server (``mail.log``, aiosmtpd), the test client's
request lines (``httpx`` to testserver.local), and the demo's two documented sinks (mail or
SMS with no server configured is written to the log: README, "Logs")."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from wallet import codes

CARD = re.compile(r"(?<!\d)77\d{14}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Russian mobile numbers, typed any way: +7 916 123-45-67, 89161234567, 79161234567.
PHONE = re.compile(r"(?<![\w+])(?:\+7|8|7)[\s(-]*9\d{2}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)")
SECRET = re.compile(r"\bw[ks]_[A-Za-z0-9_-]{20,}|\bBearer\s+[A-Za-z0-9._~+/-]{20,}")
# Addresses that are configuration, not people.
NOT_PEOPLE = re.compile(r"^(?:noreply|no-reply|loyalty|wallet|mail)@|@(?:localhost|test)\b")

DEMO_SINKS = ("mail (no WALLET_SMTP_HOST", "SMS to %s (no WALLET_SMPP_HOST")
MAX_KEPT = 50


class _Scanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.found: list[str] = []
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "mail.log" or record.name.startswith("tests"):
            return
        if isinstance(record.msg, str) and record.msg.startswith(DEMO_SINKS):
            return
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.name == "httpx" and "http://testserver.local" in text:
            return
        if record.exc_info and record.exc_info[1] is not None:
            kind = record.exc_info[0].__name__ if record.exc_info[0] else ""
            text += f" {kind}: {record.exc_info[1]}"
        self.records += 1
        kinds = [
            kind
            for kind, hit in (
                ("card number", any(codes.is_valid_card_number(m) for m in CARD.findall(text))),
                ("email", any(not NOT_PEOPLE.search(m) for m in EMAIL.findall(text))),
                ("phone", PHONE.search(text) is not None),
                ("key or token", SECRET.search(text) is not None),
            )
            if hit
        ]
        if kinds and len(self.found) < MAX_KEPT:
            self.found.append(f"{', '.join(kinds)}: {record.name} {record.levelname}: {text[:300]}")


_scanner = _Scanner()


# Building the app configures logging afresh (Litestar's dictConfig drops the root's
# handlers, and its own logger does not propagate): the scanner is put back on both around
# every phase of every test.
_LOGGERS = ("", "litestar")


def _attach() -> None:
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _scanner not in logger.handlers:
            logger.addHandler(_scanner)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    _attach()
    yield
    _attach()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    _attach()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    _attach()
    yield


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in _LOGGERS:
        logging.getLogger(name).removeHandler(_scanner)


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    if _scanner.found and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_sep("-", f"log scan: {_scanner.records} log records searched")
    if _scanner.found:
        terminalreporter.write_line(
            "personal data or secrets in the logs (tests/support/log_scan.py):", red=True
        )
        for line in _scanner.found:
            terminalreporter.write_line(f"  {line}")
