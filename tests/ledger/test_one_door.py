"""Only the ledger writes its tables: every other module moves points through
``ledger.account`` (or ``ledger.bulk``), so the ledger's invariants live in one package."""

from __future__ import annotations

import re
from pathlib import Path

WALLET = Path(__file__).resolve().parents[2] / "wallet"
LEDGER_TABLES = r"(lot|journal_entry|account)"
WRITES = [
    re.compile(rf"INSERT\s+INTO\s+{LEDGER_TABLES}\b", re.IGNORECASE),
    re.compile(rf"UPDATE\s+{LEDGER_TABLES}\s+SET\b", re.IGNORECASE),
    re.compile(rf"DELETE\s+FROM\s+{LEDGER_TABLES}\b", re.IGNORECASE),
    re.compile(r"\b(Lot|JournalEntry|Account)\.(insert|update|delete)\("),
]


def test_no_module_outside_the_ledger_writes_its_tables() -> None:
    found = []
    for path in sorted(WALLET.rglob("*.py")):
        relative = path.relative_to(WALLET)
        if relative.parts[0] == "ledger":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in WRITES:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"wallet/{relative}:{line}: {match.group(0)}")
    assert not found, "the ledger's tables are written outside wallet/ledger/:\n" + "\n".join(found)
