"""Types every boundary shares, so that what a request may carry fits what we store and
what we send on.

Text: a *line* (a name, a subject, a code) has no control characters at all (C0, DEL, C1,
Unicode line and paragraph separators): it ends up in email headers, pass fields and logs,
where a line break forges a header or a line. A *text* (an email body, a description)
may hold tabs and line breaks, nothing else below the space.

Numbers: ids are PostgreSQL ``integer`` (serial) columns; a bigger number is refused as
input instead of failing in the database.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.params import PathParameter, QueryParameter

# ``$`` in Python also matches before a final "\n": the lookahead shuts that door.
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$(?!\n)"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
PATTERNS = {
    LINE_PATTERN: "one line without control characters",
    TEXT_PATTERN: "no control characters",
}

# PostgreSQL ``integer``: serial ids, counts.
INT32_MAX = 2**31 - 1
# PostgreSQL ``bigint`` and SQLite's integers: points and money.
INT64_MAX = 2**63 - 1

ID_META = {"ge": 1, "le": INT32_MAX}

# Figures compared with ``bigint`` columns or sums (points, kopecks) and with counts.
Points64 = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
Count32 = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]


def _line(min_length: int, max_length: int, description: str) -> msgspec.Meta:
    return msgspec.Meta(
        min_length=min_length, max_length=max_length, pattern=LINE_PATTERN, description=description
    )


Name = Annotated[str, _line(1, 200, "one line, no control characters")]
OptionalName = Annotated[str, _line(0, 200, "one line, no control characters")]
Label = Annotated[str, _line(1, 64, "one line, no control characters")]
ShortLine = Annotated[str, _line(1, 32, "one line, no control characters")]
Subject = Annotated[str, _line(0, 300, "one line, no control characters")]
Address = Annotated[str, _line(0, 400, "one line, no control characters")]
Reason = Annotated[str, _line(3, 500, "one line, no control characters")]
PushHeader = Annotated[str, _line(0, 100, "one line, no control characters")]


def _text(max_length: int) -> msgspec.Meta:
    return msgspec.Meta(
        max_length=max_length,
        pattern=TEXT_PATTERN,
        description="line breaks and tabs allowed, no other control characters",
    )


PushText = Annotated[str, _text(300)]
SmsText = Annotated[str, _text(1600)]
Description = Annotated[str, _text(2000)]
Body = Annotated[str, _text(20_000)]

Id = Annotated[int, msgspec.Meta(**ID_META)]
PathId = Annotated[int, PathParameter(**ID_META)]
QueryId = Annotated[int, QueryParameter(**ID_META)]
# Journal entries and lots have ``bigint`` ids.
QueryJournalId = Annotated[int | None, QueryParameter(ge=1, le=INT64_MAX)]


def parse_id(value: str | None, field: str) -> int | None:
    """An id typed into a form: empty is none; anything but a number in range is refused."""
    from wallet.errors import InvalidInput

    text = (value or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= INT32_MAX:
        raise InvalidInput(f"{field} must be a number from 1 to {INT32_MAX}", {"field": field})
    return int(text)


def control_character_field(message: str) -> str | None:
    """The rule a validation message says a text broke, when it is one of ours."""
    for pattern, rule in PATTERNS.items():
        if pattern in message or repr(pattern)[1:-1] in message:
            return rule
    return None
