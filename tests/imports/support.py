"""CSV files as an old program exports them, for the import tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from wallet import codes

HEADERS = {
    "members": "old_id;name;phone;email;birthday;joined_at;marketing_email;marketing_email_at",
    "cards": "old_id;member_old_id;number;kind;status",
    "balances": "old_id;member_old_id;points;earned_at;expires_at",
    "receipts": "old_id;member_old_id;occurred_at;paid;category",
}


def card_number(n: int) -> str:
    body = f"78{n:013d}"
    return body + codes.luhn_check_digit(body)


def ru(moment: datetime) -> str:
    """A time as a Russian export writes it (local time, no zone)."""
    return moment.strftime("%d.%m.%Y %H:%M")


def csv_file(kind: str, rows: list[str], *, encoding: str = "cp1251", sep: str = ";") -> bytes:
    text = "\r\n".join([HEADERS[kind], *rows]) + "\r\n"
    if sep != ";":
        text = text.replace(";", sep)
    return text.encode(encoding)


def members_file(count: int, *, start: int = 1, encoding: str = "cp1251", sep: str = ";") -> bytes:
    rows = [
        f"M{n};Покупатель Номер {n};+7 912 {n // 10000:03d}-{n % 10000:04d};"
        f"shopper{n}@example.ru;01.02.1990;15.03.2021 10:00;{n % 2};15.03.2021 10:00"
        for n in range(start, start + count)
    ]
    return csv_file("members", rows, encoding=encoding, sep=sep)


def future(days: int) -> datetime:
    return datetime.now() + timedelta(days=days)
