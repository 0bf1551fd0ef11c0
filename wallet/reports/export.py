"""CSV and XLSX files of the reports, with Russian column headers.

Numbers stay numbers: points and counts are integers, money is roubles with kopecks as a
decimal number (``1234.50``), never text with spaces or a currency sign, so Excel and 1C
add them up. CSV is RFC 4180 (comma, ``.`` decimal point) in UTF-8 with a byte-order
mark, which is what makes Excel read the Cyrillic headers; XLSX is for people (a sheet
per table, money formatted as roubles). Both are written a piece at a time from an
iterator of rows: a receipt-by-receipt export is streamed, never held whole in memory
(XLSX through xlsxwriter's ``constant_memory`` mode into a temporary file).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import xlsxwriter

from wallet.reports.schemas import (
    CampaignOutcome,
    Liability,
    LiabilityFigures,
    MovementFigures,
    Movements,
    OfferOutcome,
    ProgramHealth,
    ReceiptMovements,
)
from wallet.segments.schemas import RFM_GROUP_NAMES

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Roubles(Decimal):
    """Money in a row: written as a number with the rouble format in XLSX."""


def _money(kopecks: int) -> Roubles:
    return Roubles(Decimal(kopecks) / 100)


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: Iterable[list[Any]] | AsyncIterable[list[Any]]


# ---- what each report's tables hold ----------------------------------------------------

OFFER_HEADERS = [
    "Месяц",
    "Участвовали",
    "Достигли цели",
    "Не достигли",
    "Ещё не подведён",
    "Выплачено баллов",
    "Покупки участника за месяц, ₽",
    "Обычный месяц участника, ₽",
    "Не участвовали (покупали раньше)",
    "Покупки неучаствующего за месяц, ₽",
    "Обычный месяц неучаствующего, ₽",
    "Прирост участника сверх остальных, ₽",
]


def health_sheets(report: ProgramHealth) -> list[Sheet]:
    """Cohorts (a column per month since joining, as the share who bought) and activity."""
    width = len(report.months)
    cohorts = [
        [c.month, c.members, *c.shares, *([None] * (width - len(c.shares)))] for c in report.cohorts
    ]
    headers = ["Месяц вступления", "Вступили", *(f"Купили в +{k} мес., доля" for k in range(width))]
    activity = [
        [
            m.month,
            m.active_shoppers,
            m.receipts,
            _money(m.revenue_kopecks),
            _money(m.average_receipt_kopecks),
        ]
        for m in report.months
    ]
    return [
        Sheet("Удержание", headers, cohorts),
        Sheet(
            "Активность",
            ["Месяц", "Покупали", "Чеков", "Выручка, ₽", "Средний чек, ₽"],
            activity,
        ),
        *_standing_sheets(report),
    ]


NEW_ACCOUNT = "новый счёт"
NO_SHOPPER = "без покупателя"


def _standing_sheets(report: ProgramHealth) -> list[Sheet]:
    """Tiers per month end with the moves up and down, and the from→to pairs of tiers and
    of RFM groups (Russian names), a row per pair and month: a pivot table away from any
    matrix."""
    names = list(dict.fromkeys(t.tier for s in report.standings for t in s.tiers))
    tiers = []
    tier_pairs: list[list[Any]] = []
    group_pairs: list[list[Any]] = []
    for s in report.standings:
        counts = {t.tier: t.accounts for t in s.tiers}
        moves = s.tier_moves
        tiers.append(
            [
                s.month,
                "сейчас" if s.live else ("записан" if s.recorded else "не записан"),
                *(counts.get(name, 0) if s.recorded else None for name in names),
                *((moves.up, moves.down, moves.same, moves.joined) if moves else [None] * 4),
            ]
        )
        for m in moves.matrix if moves else []:
            tier_pairs.append([s.month, m.from_ or NEW_ACCOUNT, m.to, m.accounts])
        for m in s.rfm_moves or []:
            group_pairs.append([s.month, _group(m.from_), _group(m.to), m.accounts])
    return [
        Sheet(
            "Уровни",
            [
                "Конец месяца",
                "Данные",
                *names,
                "Повысили уровень",
                "Понизили",
                "Без изменений",
                "Новые счета",
            ],
            tiers,
        ),
        Sheet("Переходы уровней", ["Месяц", "Был", "Стал", "Счетов"], tier_pairs),
        Sheet("Переходы RFM", ["Месяц", "Была группа", "Стала", "Счетов"], group_pairs),
    ]


def _group(code: str | None) -> str:
    return NO_SHOPPER if code is None else RFM_GROUP_NAMES.get(code, code)


def offer_sheets(report: OfferOutcome) -> list[Sheet]:
    rows = [
        [
            m.month,
            m.opted_in,
            m.reached,
            m.missed,
            m.open,
            m.points_paid,
            _money(m.spend_per_shopper_kopecks),
            _money(m.lookback_per_shopper_kopecks),
            m.others,
            _money(m.others_spend_per_shopper_kopecks),
            _money(m.others_lookback_per_shopper_kopecks),
            None if m.uplift_per_shopper_kopecks is None else _money(m.uplift_per_shopper_kopecks),
        ]
        for m in report.months
    ]
    return [Sheet("Кешбэк по месяцам", OFFER_HEADERS, rows)]


METRIC_NAMES = {
    "buyers_share": "Доля купивших",
    "receipts_per_shopper": "Чеков на покупателя",
    "revenue_per_shopper_kopecks": "Выручка на покупателя, ₽",
    "points_per_shopper": "Баллов на покупателя",
}
METHOD_NAMES = {
    "two_proportion_wald": "разность долей (Вальд)",
    "welch_t": "разность средних (Уэлч)",
}
_GROUP_HEADERS = ["Группа", "Покупателей", "Купили", "Чеков", "Выручка, ₽", "Начислено баллов"]
_METRIC_HEADERS = [
    "Показатель",
    "Метод",
    "Получатели",
    "Контрольная группа",
    "Разница",
    "Разница к контрольной, доля",
    "95% ДИ от",
    "95% ДИ до",
    "Данных достаточно",
    "Различие значимо",
]


def campaign_sheets(report: CampaignOutcome) -> list[Sheet]:
    """The two groups and the comparison of each figure (revenue per shopper in roubles)."""
    groups = [
        [name, g.shoppers, g.buyers, g.receipts, _money(g.revenue_kopecks), g.points]
        for name, g in (("Получатели", report.recipients), ("Контрольная группа", report.held_out))
    ]
    rows = []
    for m in report.metrics:
        scale = 100 if m.metric == "revenue_per_shopper_kopecks" else 1
        figures = [m.recipients, m.held_out, m.difference, m.ci_low, m.ci_high]
        ours, theirs, diff, low, high = (round(x / scale, 6) for x in figures)
        rows.append(
            [
                METRIC_NAMES.get(m.metric, m.metric),
                METHOD_NAMES.get(m.method, m.method),
                ours,
                theirs,
                diff,
                m.relative,
                low,
                high,
                "да" if m.enough else "нет",
                "да" if m.significant else "нет",
            ]
        )
    return [Sheet("Группы", _GROUP_HEADERS, groups), Sheet("Сравнение", _METRIC_HEADERS, rows)]


_LIABILITY_HEADERS = [
    "Счетов",
    "Счетов с баллами или долгом",
    "Доступно баллов",
    "Ожидает начисления, баллов",
    "Долг, баллов",
    "Баллов к погашению",
    "Стоимость баллов, ₽",
    "Стоимость долга, ₽",
]


def _liability_numbers(f: LiabilityFigures) -> list[Any]:
    return [
        f.accounts,
        f.holding_accounts,
        f.balance_points,
        f.pending_points,
        f.debt_points,
        f.outstanding_points,
        _money(f.value_kopecks),
        _money(f.debt_value_kopecks),
    ]


def liability_sheets(report: Liability) -> list[Sheet]:
    as_of = report.as_of.isoformat()
    return [
        Sheet(
            "Итого",
            ["На момент", "Цена балла, ₽", *_LIABILITY_HEADERS],
            [[as_of, _money(report.point_value_kopecks), *_liability_numbers(report.total)]],
        ),
        Sheet(
            "По уровням",
            ["Уровень", *_LIABILITY_HEADERS],
            [[t.tier, *_liability_numbers(t)] for t in report.by_tier],
        ),
        Sheet(
            "По магазинам вступления",
            ["Код магазина", "Магазин", *_LIABILITY_HEADERS],
            [
                [s.store_code or "", s.store_name or "без магазина", *_liability_numbers(s)]
                for s in report.by_join_store
            ],
        ),
        Sheet(
            "Сгорание по месяцам",
            ["Месяц", "Сгорит баллов", "Стоимость, ₽"],
            [[e.month, e.points, _money(e.value_kopecks)] for e in report.expiring]
            + [["позже", report.expiring_later_points, _money(0)]],
        ),
    ]


MOVEMENT_HEADERS = {
    "earned": "Начислено за покупки",
    "promotion": "Бонусы акций",
    "cashback": "Кешбэк",
    "bonus": "Бонусы за события",
    "redeemed": "Списано в оплату",
    "expired": "Сгорело",
    "adjusted": "Ручные корректировки",
    "returned": "Возвраты (забрано)",
    "refunded": "Возвраты (вернули списанное)",
    "other": "Прочее (погашение долга, слияние карт)",
    "net": "Итого изменение",
}


def _movement_numbers(f: MovementFigures) -> list[int]:
    return [getattr(f, name) for name in MOVEMENT_HEADERS]


def movements_sheets(report: Movements) -> list[Sheet]:
    period = [report.start.isoformat(), report.end.isoformat()]
    headers = list(MOVEMENT_HEADERS.values())
    return [
        Sheet(
            "Итого",
            ["С", "По", "Магазин", *headers],
            [[*period, report.store_code or "все", *_movement_numbers(report.total)]],
        ),
        Sheet(
            "По дням",
            ["День", *headers],
            [[d.day, *_movement_numbers(d)] for d in report.by_day],
        ),
        Sheet(
            "По магазинам",
            ["Код магазина", "Магазин", *headers],
            [
                [s.store_code or "", s.store_name or "без чека", *_movement_numbers(s)]
                for s in report.by_store
            ],
        ),
        Sheet(
            "По акциям",
            ["Акция", "Название", "Начислено", "Забрано возвратами", "Итого"],
            [
                [p.promotion_id, p.name, p.given_points, p.taken_back_points, p.net_points]
                for p in report.by_promotion
            ],
        ),
        Sheet(
            "По предложениям кешбэка",
            ["Предложение", "Название", "Кешбэк, баллов"],
            [[o.offer_id, o.name, o.cashback_points] for o in report.by_offer],
        ),
    ]


RECEIPT_HEADERS = [
    "Чек (внутр. номер)",
    "Номер чека на кассе",
    "Магазин",
    "Время чека",
    "Счёт",
    "Сумма чека, ₽",
    "Оплачено деньгами, ₽",
    *MOVEMENT_HEADERS.values(),
]


async def receipt_rows(items: AsyncIterable[ReceiptMovements]) -> AsyncIterator[list[Any]]:
    async for r in items:
        yield [
            r.receipt_id,
            r.external_id,
            r.store_code,
            r.occurred_at.isoformat(),
            r.account_id,
            _money(r.total_kopecks),
            _money(r.paid_kopecks),
            *_movement_numbers(r),
        ]


# ---- writers ---------------------------------------------------------------------------


async def _rows(rows: Iterable[list[Any]] | AsyncIterable[list[Any]]) -> AsyncIterator[list[Any]]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        [f"{v:.2f}" if isinstance(v, Decimal) else v for v in values]
    )
    return out.getvalue()


async def csv_stream(sheets: list[Sheet]) -> AsyncIterator[bytes]:
    """One CSV: with several tables, a first column names the table each row belongs to."""
    yield "\ufeff".encode()
    several = len(sheets) > 1
    for sheet in sheets:
        # Each table's own header row comes first: tables differ in columns.
        yield _csv_line(["Раздел", *sheet.headers] if several else sheet.headers).encode()
        async for row in _rows(sheet.rows):
            yield _csv_line([sheet.title, *row] if several else row).encode()


async def xlsx_stream(sheets: list[Sheet]) -> AsyncIterator[bytes]:
    """An XLSX file, a sheet per table, written row by row to a temporary file and then
    sent in chunks (xlsxwriter keeps only the current row in memory)."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="wallet-report-")
    os.close(handle)
    try:
        book = xlsxwriter.Workbook(path, {"constant_memory": True})
        bold = book.add_format({"bold": True})
        money = book.add_format({"num_format": "#,##0.00"})
        for sheet in sheets:
            page = book.add_worksheet(sheet.title[:31])
            page.write_row(0, 0, sheet.headers, bold)
            page.set_column(0, len(sheet.headers) - 1, 16)
            number = 1
            async for row in _rows(sheet.rows):
                for column, value in enumerate(row):
                    if isinstance(value, Decimal):
                        page.write_number(number, column, float(value), money)
                    elif isinstance(value, int | float):
                        page.write_number(number, column, value)
                    else:
                        page.write_string(number, column, str(value))
                number += 1
        await anyio.to_thread.run_sync(book.close)
        async with await anyio.open_file(path, "rb") as f:
            while chunk := await f.read(64 * 1024):
                yield chunk
    finally:
        os.unlink(path)
