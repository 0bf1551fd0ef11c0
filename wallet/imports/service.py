"""Importing an old program's members, cards, opening balances and purchase history.

One file of one kind at a time (members first: the others name members by their old id).
Every import reads the whole file first and refuses it, writing nothing, if any row is bad
(the report names each bad row's line, field and reason); a dry run stops there. Then the
rows go in batches, each batch one transaction with set-based inserts and its progress:

- idempotent: each row's old id is kept (``import_key``), so a row imported before is
  skipped and a second run of a file changes nothing;
- resumable: a run that dies keeps the batches it committed, and the next run of the same
  file (same SHA-256) goes on after the last line it committed.

Opening balances become lots with their own expiry through ``ledger.bulk`` (journal kind
``adjust``, actor ``import``); purchase history adds to the spend tiers and goals read
(lifetime and monthly spend, the offers' spend months) and is kept for the shopper's
history (``receipts.imported``, shown as from the old program), it does not post receipts:
an old program's receipts earned points there, not here.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable, Coroutine, Iterator, Sequence
from datetime import datetime
from typing import Any, BinaryIO

import msgspec

from wallet import db
from wallet.errors import InvalidInput
from wallet.imports import csvfile, queries
from wallet.imports.rows import (
    KINDS,
    BalanceRow,
    CardRow,
    MemberRow,
    Problem,
    ReceiptRow,
    Row,
    header,
    read,
)
from wallet.ledger import bulk as ledger_bulk
from wallet.members import bulk as members_bulk
from wallet.members import service as members
from wallet.offers import progress as offers_progress
from wallet.receipts import imported as receipts_imported

# Rows per transaction: big enough for set-based statements to pay off, small enough that
# a crash loses little and a lock is short (measured: bench/bench_import.py).
BATCH_ROWS = 2000
# Rows whose database checks (old ids, phones, card numbers) run at once while validating.
_CHECK_ROWS = 5000
_REASON = "opening balance from the old program"


class ImportRefused(InvalidInput):
    """The file has bad rows; nothing was written."""

    code = "import_refused"


class ImportReport(msgspec.Struct, frozen=True):
    """What an import did, or (``dry_run``) would do."""

    kind: str
    dry_run: bool
    # data rows in the file (the header not counted)
    rows: int
    # rows written by this run (a dry run: rows that would be)
    imported: int
    # rows whose old id was imported before: skipped
    already_imported: int
    problems: list[Problem]
    encoding: str
    delimiter: str
    run_id: int | None = None
    # a run that crashed before went on after this line
    resumed_after_line: int = 0


def _key(kind: str, old_id: str) -> str:
    return f"{kind}:{old_id}"


async def _known(keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = await db.fetch_in(
        sorted(set(keys)), sqlite=queries.keys_known, postgres=queries.KEYS_KNOWN
    )
    return {str(row["key"]): row for row in rows}


def _parsed(
    kind: str, source: BinaryIO, layout: csvfile.Layout, now: datetime
) -> Iterator[Row | list[Problem]]:
    lines = csvfile.rows(source, layout)
    try:
        first = next(lines, None)
        if first is None:
            yield [Problem(line=1, field="", reason="the file is empty: no header line")]
            return
        index, problems = header(kind, first[1])
        if problems:
            yield problems
            return
        for line, fields in lines:
            yield read(kind, line, fields, index, now)
    except csvfile.Unreadable as exc:
        yield [Problem(line=exc.line, field="", reason=exc.reason)]


class _Checks:
    """What validation remembers across the whole file: ids and unique values seen."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.seen: dict[str, dict[str, int]] = {}
        self.rows = self.new = self.already = 0
        self.problems: list[Problem] = []

    def once(self, field: str, value: str | None, line: int, what: str) -> bool:
        if value is None:
            return True
        seen = self.seen.setdefault(field, {})
        first = seen.setdefault(value, line)
        if first != line:
            self.problems.append(
                Problem(line=line, field=field, reason=f"duplicate {what} (first on line {first})")
            )
            return False
        return True

    async def batch(self, rows: list[Row]) -> None:
        known = await _known([_key(self.kind, row.old_id) for row in rows])
        fresh = [row for row in rows if _key(self.kind, row.old_id) not in known]
        self.already += len(rows) - len(fresh)
        self.new += len(fresh)
        members_named = [
            row.member_old_id
            for row in fresh
            if isinstance(row, CardRow | BalanceRow | ReceiptRow) and row.member_old_id
        ]
        if members_named:
            imported = await _known([_key("members", old) for old in members_named])
            for row in fresh:
                old = getattr(row, "member_old_id", None)
                if old and _key("members", old) not in imported:
                    self.problems.append(
                        Problem(
                            line=row.line,
                            field="member_old_id",
                            reason="no member with this old id was imported (import members first)",
                        )
                    )
        await self._unique_in_database(fresh)

    async def _unique_in_database(self, fresh: list[Row]) -> None:
        checks: list[tuple[str, Callable[[Row], str | None], Any, str]] = []
        if self.kind == "members":
            checks = [
                ("phone", lambda r: getattr(r, "phone", None), members_bulk.phones_taken, "phone"),
                ("email", lambda r: getattr(r, "email", None), members_bulk.emails_taken, "email"),
            ]
        elif self.kind == "cards":
            checks = [
                (
                    "number",
                    lambda r: getattr(r, "number", None),
                    members_bulk.numbers_taken,
                    "card",
                ),
            ]
        for field, value_of, taken_of, what in checks:
            values = [v for row in fresh if (v := value_of(row))]
            taken = await taken_of(values) if values else set()
            for row in fresh:
                if value_of(row) in taken:
                    self.problems.append(
                        Problem(line=row.line, field=field, reason=f"this {what} is already ours")
                    )


_LENGTH = struct.Struct("<I")
_ROW_TYPES: dict[str, type[Row]] = {
    "members": MemberRow,
    "cards": CardRow,
    "balances": BalanceRow,
    "receipts": ReceiptRow,
}


class _Spool:
    """The rows as read and checked, kept on disk (msgpack, length-prefixed) for the
    writing pass: reading a row again from the CSV (its phone through libphonenumber, its
    dates) cost as much as the checks themselves (bench/bench_import.py); this is memory-
    bounded whatever the file's size."""

    def __init__(self, kind: str) -> None:
        self.file = tempfile.TemporaryFile()
        self.encoder = msgspec.msgpack.Encoder()
        self.decoder = msgspec.msgpack.Decoder(_ROW_TYPES[kind])

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self.file.close()

    def add(self, row: Row) -> None:
        data = self.encoder.encode(row)
        self.file.write(_LENGTH.pack(len(data)) + data)

    def rows(self) -> Iterator[Row]:
        self.file.seek(0)
        while head := self.file.read(_LENGTH.size):
            (size,) = _LENGTH.unpack(head)
            yield self.decoder.decode(self.file.read(size))


async def _validate(
    kind: str, source: BinaryIO, layout: csvfile.Layout, now: datetime, spool: _Spool
) -> _Checks:
    checks = _Checks(kind)
    pending: list[Row] = []
    for item in _parsed(kind, source, layout, now):
        if isinstance(item, list):
            checks.problems.extend(item)
            if item and item[0].line == 1:
                return checks
            checks.rows += 1
            continue
        checks.rows += 1
        fine = checks.once("old_id", item.old_id, item.line, "old id")
        if isinstance(item, MemberRow):
            fine = checks.once("phone", item.phone, item.line, "phone") and fine
            fine = checks.once("email", item.email, item.line, "email") and fine
        elif isinstance(item, CardRow):
            fine = checks.once("number", item.number, item.line, "card number") and fine
        if fine:
            pending.append(item)
            spool.add(item)
        if len(pending) >= _CHECK_ROWS:
            await checks.batch(pending)
            pending = []
    if pending:
        await checks.batch(pending)
    return checks


async def run(
    kind: str,
    source: BinaryIO,
    *,
    now: datetime,
    actor: str,
    file_name: str = "",
    dry_run: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Import one file of ``kind`` (or, ``dry_run``, only say what would happen); a file
    with bad rows raises ``ImportRefused`` naming them, unless it is a dry run, whose
    report lists them."""
    if kind not in KINDS:
        raise InvalidInput(f"no import of {kind!r}: one of {', '.join(KINDS)}", {"kind": kind})
    layout = csvfile.detect(source)
    with _Spool(kind) as spool:
        return await _run(
            kind,
            source,
            layout,
            spool,
            now=now,
            actor=actor,
            file_name=file_name,
            dry_run=dry_run,
            batch_rows=batch_rows,
        )


async def _run(
    kind: str,
    source: BinaryIO,
    layout: csvfile.Layout,
    spool: _Spool,
    *,
    now: datetime,
    actor: str,
    file_name: str,
    dry_run: bool,
    batch_rows: int,
) -> ImportReport:
    checks = await _validate(kind, source, layout, now, spool)
    problems = sorted(checks.problems, key=lambda p: (p.line, p.field))
    report = ImportReport(
        kind=kind,
        dry_run=dry_run,
        rows=checks.rows,
        imported=checks.new,
        already_imported=checks.already,
        problems=problems,
        encoding="utf-8" if layout.encoding == "utf-8-sig" else "windows-1251",
        delimiter=layout.delimiter,
    )
    if dry_run:
        return report
    if problems:
        raise ImportRefused(
            f"{len(problems)} problem(s) in the file; nothing was imported",
            {"problems": msgspec.to_builtins(problems)},
        )
    async with db.write_transaction():
        found = await db.fetch(queries.UNFINISHED_RUN, kind, layout.sha256)
        if found:
            run_id, after = int(found[0]["id"]), int(found[0]["lines_done"])
        else:
            started = await db.fetch(
                queries.START_RUN, kind, file_name[:255], layout.sha256, actor[:100], now
            )
            run_id, after = int(started[0]["id"]), 0
    write = _WRITERS[kind]
    batch: list[Row] = []

    async def flush() -> None:
        async with db.write_transaction():
            known = await _known([_key(kind, row.old_id) for row in batch])
            todo = [row for row in batch if _key(kind, row.old_id) not in known]
            keys = await write(todo, now=now, actor=actor) if todo else []
            await db.fetch_many(
                [(key, new_id, account_id, run_id, now) for key, new_id, account_id in keys],
                sqlite=queries.insert_keys,
                postgres=queries.INSERT_KEYS,
                per_statement=5000,
            )
            await db.fetch(
                queries.BATCH_DONE, batch[-1].line, len(todo), len(batch) - len(todo), run_id
            )

    for item in spool.rows():
        if item.line <= after:
            continue
        batch.append(item)
        if len(batch) >= batch_rows:
            await flush()
            batch = []
    if batch:
        await flush()
    async with db.write_transaction():
        done = await db.fetch(queries.FINISH_RUN, now, run_id)
    return msgspec.structs.replace(
        report,
        imported=int(done[0]["imported"]),
        already_imported=int(done[0]["skipped"]),
        run_id=run_id,
        resumed_after_line=after,
    )


# What a batch writes: (key, new id, account id) for each row written.
Keys = list[tuple[str, int | None, int | None]]
Writer = Callable[..., Coroutine[Any, Any, Keys]]


async def _members(rows: list[Row], *, now: datetime, actor: str) -> Keys:
    people = [row for row in rows if isinstance(row, MemberRow)]
    accounts = await ledger_bulk.open_accounts(len(people), now=now)
    ids = await members_bulk.insert_members(
        [
            members_bulk.ImportedMember(
                account_id=account_id,
                name=row.name,
                email=row.email,
                phone=row.phone,
                birthday=row.birthday,
                joined_at=row.joined_at,
                consent_program_at=row.consent_program_at,
                consent_data_at=row.consent_data_at,
                consent_version=row.consent_version,
                marketing_email_at=row.marketing_email_at,
                marketing_push_at=row.marketing_push_at,
                language=row.language,
            )
            for account_id, row in zip(accounts, people, strict=True)
        ]
    )
    return [
        (_key("members", row.old_id), member_id, account_id)
        for row, member_id, account_id in zip(people, ids, accounts, strict=True)
    ]


async def _accounts_of(rows: Sequence[Row]) -> dict[str, int]:
    """The account of each member named by old id (checked to exist when validating)."""
    olds = [old for row in rows if (old := getattr(row, "member_old_id", None))]
    known = await _known([_key("members", old) for old in olds])
    return {key.split(":", 1)[1]: int(row["account_id"]) for key, row in known.items()}


async def _cards(rows: list[Row], *, now: datetime, actor: str) -> Keys:
    cards = [row for row in rows if isinstance(row, CardRow)]
    accounts = await _accounts_of(cards)
    anonymous = [row for row in cards if row.member_old_id is None]
    # An anonymous plastic card has an account of its own until a shopper claims it.
    for row, account_id in zip(
        anonymous, await ledger_bulk.open_accounts(len(anonymous), now=now), strict=True
    ):
        accounts[f"\0{row.old_id}"] = account_id
    owner = [accounts[row.member_old_id or f"\0{row.old_id}"] for row in cards]
    ids = await members_bulk.insert_cards(
        [
            members_bulk.ImportedCard(
                account_id=account_id,
                number=row.number,
                kind=row.kind,
                role=row.role,
                status=row.status,
                holder_name=row.holder_name,
                issued_at=row.issued_at,
            )
            for row, account_id in zip(cards, owner, strict=True)
        ]
    )
    return [
        (_key("cards", row.old_id), card_id, account_id)
        for row, card_id, account_id in zip(cards, ids, owner, strict=True)
    ]


async def _balances(rows: list[Row], *, now: datetime, actor: str) -> Keys:
    lots = [row for row in rows if isinstance(row, BalanceRow)]
    accounts = await _accounts_of(lots)
    owner = [accounts[row.member_old_id] for row in lots]
    ids = await ledger_bulk.credit_lots(
        [
            ledger_bulk.OpeningLot(
                account_id=account_id,
                points=row.points,
                earned_at=row.earned_at,
                expires_at=row.expires_at,
            )
            for row, account_id in zip(lots, owner, strict=True)
        ],
        source="import",
        kind="adjust",
        actor=actor,
        reason=_REASON,
        now=now,
    )
    return [
        (_key("balances", row.old_id), lot_id, account_id)
        for row, lot_id, account_id in zip(lots, ids, owner, strict=True)
    ]


async def _receipts(rows: list[Row], *, now: datetime, actor: str) -> Keys:
    sales = [row for row in rows if isinstance(row, ReceiptRow)]
    accounts = await _accounts_of(sales)
    owner = [accounts[row.member_old_id] for row in sales]
    cards = await members.cards_of_accounts(sorted(set(owner)))
    # Goals add up per card (family cards); history counts on the account's first card.
    first_card = {account: found[0].id if found else 0 for account, found in cards.items()}
    await ledger_bulk.add_spend(
        [(a, row.occurred_at, row.paid_kopecks) for row, a in zip(sales, owner, strict=True)]
    )
    await offers_progress.add_history(
        [
            (a, first_card[a], row.occurred_at, row.category, row.paid_kopecks)
            for row, a in zip(sales, owner, strict=True)
        ]
    )
    # The shopper sees them in their history, as purchases of the old program.
    await receipts_imported.add(
        [
            receipts_imported.ImportedPurchase(
                account_id=a,
                old_id=row.old_id,
                occurred_at=row.occurred_at,
                paid_kopecks=row.paid_kopecks,
                category=row.category,
            )
            for row, a in zip(sales, owner, strict=True)
        ],
        now=now,
    )
    return [(_key("receipts", row.old_id), None, a) for row, a in zip(sales, owner, strict=True)]


_WRITERS: dict[str, Writer] = {
    "members": _members,
    "cards": _cards,
    "balances": _balances,
    "receipts": _receipts,
}
