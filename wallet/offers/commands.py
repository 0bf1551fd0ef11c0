"""The operator's cashback and expiry commands: ``wallet settle`` and ``wallet expire``."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from wallet import clock
from wallet.ledger import service as ledger
from wallet.offers import expiry, service, settlement


def _as_of(text: str | None) -> datetime:
    if not text:
        return clock.now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SystemExit(
            f"--as-of {text!r} is not a time; write 2026-02-04T03:00:00+03:00"
        ) from exc
    if moment.tzinfo is None:
        raise SystemExit("--as-of needs a UTC offset, e.g. 2026-02-04T03:00:00+03:00")
    return clock.to_utc(moment)


async def settle(args: argparse.Namespace) -> int:
    month = service.parse_month(args.month)
    now = _as_of(args.as_of)
    report = await settlement.settle_month(month, now=now)
    print(
        f"{report.month}: {report.settled} goal(s) settled in {report.offers} offer(s); "
        f"{report.reached} reached ({report.points} points credited), {report.missed} missed"
    )
    return 0


async def expire(args: argparse.Namespace) -> int:
    now = _as_of(args.as_of)
    changed = await ledger.expire_due(now=now)
    reminded = 0 if args.no_reminders else await expiry.send_reminders(now=now)
    print(f"{changed} account(s) had points expire or mature; {reminded} reminder(s) queued")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "settle", help="settle a month of smart-goal cashback (idempotent: a rerun credits nothing)"
    )
    p.add_argument("--month", required=True, help="YYYY-MM in the program's time zone")
    p.add_argument("--as-of", help="act as of this time (ISO 8601 with offset); default now")
    p.set_defaults(run=settle)

    p = sub.add_parser("expire", help="expire points past their date and send burn reminders")
    p.add_argument("--as-of", help="act as of this time (ISO 8601 with offset); default now")
    p.add_argument("--no-reminders", action="store_true", help="expire only")
    p.set_defaults(run=expire)
