"""What the worker runs for SMS: sending one message over SMPP."""

from __future__ import annotations

from wallet.platform.worker import register
from wallet.sms import service

# A throttling or absent SMSC is retried with backoff for about a day before the message
# is dead (a sign-in code is useless by then anyway).
register(service.SEND, service.send, max_attempts=20)
