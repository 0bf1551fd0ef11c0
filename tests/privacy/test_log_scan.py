"""The session-wide log scan (``tests/support/log_scan.py``) finds what it promises to find,
and lets ids and masked numbers through."""

from __future__ import annotations

import logging

import pytest

from tests.support import log_scan
from wallet import codes


def _flags(message: str, *args: object, name: str = "wallet.test") -> list[str]:
    scanner = log_scan._Scanner()
    record = logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)
    scanner.emit(record)
    return scanner.found


@pytest.mark.parametrize(
    "message",
    [
        "card %s blocked",
        "sent to anna.smirnova@example.ru",
        "SMS to +7 916 123-45-67 failed",
        "SMS to 89161234567 failed",
        "key wk_admin_" + "A" * 43 + " used",
        "token ws_" + "b" * 43,
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
    ],
)
def test_personal_data_and_secrets_are_found(message):
    card = "77" + "1234567890123"
    card += codes.luhn_check_digit(card)
    assert _flags(message, card) if "%s" in message else _flags(message)


@pytest.mark.parametrize(
    "message",
    [
        "outbox job 12345 (sms.send) attempt 1 failed",
        "SMS 17 to +7916***4567 not sent",
        "member 77 erased; account 1234567890123456 is not a valid card number",
        "mail from noreply@example.ru refused: 550",
    ],
)
def test_ids_masked_numbers_and_configuration_pass(message):
    assert _flags(message) == []


def test_the_demo_sinks_and_the_tests_smtp_server_are_left_out():
    assert _flags("mail (no WALLET_SMTP_HOST, logged only) to %s: %s", "a@example.ru", "x") == []
    assert _flags("EOF from anna@example.ru", name="mail.log") == []
