"""``wallet import members|cards|balances|receipts FILE.csv [--dry-run]``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from wallet import clock
from wallet.imports import service
from wallet.imports.rows import KINDS, Problem


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        field = problem.field or "-"
        print(
            f"строка {problem.line}, поле {field}: {problem.reason} / line {problem.line}, field {field}"
        )


async def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        # The command's only task: reading the file blocks nothing else.
        opened = await asyncio.to_thread(path.open, "rb")
    except OSError as exc:
        print(f"файл не открыть / cannot open the file: {path}: {exc.strerror}")
        return 2
    with opened as source:
        try:
            report = await service.run(
                args.kind,
                source,
                now=clock.now(),
                actor="cli",
                file_name=path.name,
                dry_run=args.dry_run,
                batch_rows=args.batch_rows,
            )
        except service.ImportRefused as exc:
            problems = [Problem(**p) for p in exc.details["problems"]]
            _print_problems(problems)
            print(
                f"ничего не импортировано: ошибок {len(problems)} / nothing imported: "
                f"{len(problems)} problem(s); `--dry-run` lists them without writing"
            )
            return 1
    read = (
        f"{report.rows} строк, {report.encoding}, разделитель {report.delimiter!r} / "
        f"{report.rows} rows"
    )
    if report.dry_run:
        _print_problems(report.problems)
        print(
            f"проверка без записи / dry run ({args.kind}): {read}; импортировать "
            f"{report.imported}, уже импортировано {report.already_imported}, ошибок "
            f"{len(report.problems)} / would import {report.imported}, already imported "
            f"{report.already_imported}, problems {len(report.problems)}"
        )
        return 1 if report.problems else 0
    resumed = (
        f"; продолжено после строки {report.resumed_after_line} / resumed after line "
        f"{report.resumed_after_line}"
        if report.resumed_after_line
        else ""
    )
    print(
        f"импорт {args.kind} (запуск {report.run_id}): {read}; импортировано "
        f"{report.imported}, пропущено (уже были) {report.already_imported} / imported "
        f"{report.imported}, skipped as already imported {report.already_imported}{resumed}"
    )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="import members, cards, opening balances or purchase history from an old "
        "program's CSV (UTF-8 or Windows-1251, ';' or ','); idempotent and resumable",
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument("file", help="the CSV file; its columns are in README.md")
    p.add_argument(
        "--dry-run", action="store_true", help="check every row and report; write nothing"
    )
    p.add_argument(
        "--batch-rows",
        type=int,
        default=service.BATCH_ROWS,
        help=f"rows per transaction (default {service.BATCH_ROWS})",
    )
    p.set_defaults(run=run)
