"""Outbox handler for queued mail."""

from __future__ import annotations

from typing import Any

import aiosmtplib

from wallet.mail import service
from wallet.platform.worker import GiveUp, RetryLater, register


async def send_email(payload: dict[str, Any]) -> None:
    try:
        await service.send_now(
            to=payload["to"],
            template=payload["template"],
            lang=payload["lang"],
            context=payload["context"],
            headers=payload.get("headers") or None,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        # The address (and the server's text, which usually repeats it) stays out of the
        # job's error and the log: personal data. The SMTP code says why.
        raise GiveUp(service.failure(exc)) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise RetryLater(f"mail server unavailable: {exc}") from exc


register("email", send_email, max_attempts=10)
