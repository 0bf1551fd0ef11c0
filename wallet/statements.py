"""Statement text, apart from running it (``wallet.db`` runs it and re-exports these):
a named statement with its text for each engine (``Sql``, made by ``sql``), and the
numbered ``$n`` placeholders of statements composed in pieces (``Params``) or sized by a
count (``marks`` for an IN list, ``rows`` for a multi-row INSERT). Imports nothing of the
wallet."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_LOCK = "{lock}"
_NUMBERED = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=4096)
def sqlite_text(sql: str) -> str:
    """``$n`` to ``?n``: the same parameter, by number, in SQLite's spelling."""
    return _NUMBERED.sub(r"?\1", sql)


@dataclass(frozen=True, slots=True)
class Sql:
    """One named statement of a ``queries`` module, its text for each engine and the
    columns ``fetch`` decodes. Made by ``sql``."""

    postgres: str
    sqlite: str
    decode: tuple[tuple[str, Callable[[Any], Any]], ...] = ()


def sql(text: str, *, lock: str = "", **decode: Callable[[Any], Any]) -> Sql:
    """A statement with ``$n`` placeholders. ``lock`` is the row lock PostgreSQL takes where
    the text says ``{lock}`` (``FOR UPDATE``, ``FOR UPDATE SKIP LOCKED``): a read-then-write
    there loses updates unless the rows are locked. SQLite has no such clause and needs none:
    ``write_transaction`` is IMMEDIATE and holds the whole database. ``decode`` names the
    columns whose value the engines return differently, with the decoder (``timestamp``,
    ``json_value``, ``boolean``)."""
    if (_LOCK in text) != bool(lock):
        raise ValueError(f"a lock needs both {_LOCK} in the text and lock=...: {text!r}")
    postgres = text.replace(_LOCK, lock)
    sqlite = sqlite_text(text.replace(" " + _LOCK, "").replace(_LOCK, ""))
    return Sql(postgres, sqlite, tuple(decode.items()))


def marks(count: int, first: int = 1) -> str:
    """``$first, ..., $(first + count - 1)``: the placeholders of an IN list."""
    return ", ".join(f"${n}" for n in range(first, first + count))


def rows(count: int, width: int, first: int = 1, tail: str = "") -> str:
    """``($1, $2), ($3, $4)``: ``count`` VALUES rows of ``width`` placeholders each from
    ``$first`` on, each row ending in ``tail`` (columns every new row starts with, e.g.
    ``", 0, 1"``), for a multi-row INSERT."""
    return ", ".join(f"({marks(width, first + r * width)}{tail})" for r in range(count))


class Params:
    """The arguments of a statement composed in pieces (settlement, a segment's filter):
    ``p(value)`` appends the value and is its ``$n`` in the text, so every piece numbers
    its own parameters and the order of the arguments is the order they were asked for."""

    def __init__(self, *values: Any) -> None:
        self.values: list[Any] = list(values)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"
