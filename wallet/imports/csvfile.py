"""Reading an old program's CSV export, whatever it was saved as.

Russian exports come from Excel and 1C as Windows-1251 with ``;`` between fields (the
comma is the decimal separator there), or as UTF-8 (often with a BOM) with ``,``. The
encoding is found by trying UTF-8 on the whole file (a Windows-1251 file of Cyrillic text
is almost never valid UTF-8), the separator by counting both in the header line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Layout:
    encoding: str
    delimiter: str
    sha256: str


def detect(source: BinaryIO) -> Layout:
    """The file's encoding, separator and SHA-256 (one pass; the file is rewound)."""
    source.seek(0)
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    head = b""
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        if len(head) < 65536:
            head += chunk[: 65536 - len(head)]
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    source.seek(0)
    encoding = "utf-8-sig" if utf8 else "cp1251"
    first = head.decode(encoding, errors="replace").splitlines()[0] if head.strip() else ""
    delimiter = ";" if first.count(";") >= first.count(",") and ";" in first else ","
    return Layout(encoding=encoding, delimiter=delimiter, sha256=digest.hexdigest())


class Unreadable(Exception):
    """The file stops being CSV at ``line`` (a NUL byte, a field over the size limit)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


def rows(source: BinaryIO, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-empty row, the header first (line 1). A field
    quoted over several lines counts from the line it starts on. Bytes Windows-1251 leaves
    undefined (0x98) read as U+FFFD, which no field accepts; ``Unreadable`` where the text
    is not CSV at all."""
    source.seek(0)
    text = io.TextIOWrapper(source, encoding=layout.encoding, errors="replace", newline="")
    start = 1
    try:
        reader = csv.reader(text, delimiter=layout.delimiter)
        for fields in reader:
            if any(field.strip() for field in fields):
                yield start, fields
            start = reader.line_num + 1
    except csv.Error as exc:
        raise Unreadable(start, f"not CSV from here on: {exc}") from exc
    finally:
        text.detach()
