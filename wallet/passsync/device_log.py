"""What Apple Wallet reports to ``POST /passkit/v1/log``, written to our log safely.

The route is unauthenticated (Apple's protocol sends no token with it), so its text is a
stranger's: every line is escaped (``repr``: newlines, carriage returns, ANSI escapes,
bidi overrides and U+2028 come out as visible escapes, so nobody can forge a log line),
cut to a length, and only so many lines a minute are written per client address and in
all. Real devices send a few short lines when a pass update fails, far below the limits.

The counts live in this process: one event loop, and no ``await`` between reading a count
and raising it, so two requests cannot both take the last line. With several processes
each has its own budget; that bounds what a flood writes to the log of each process,
which is all the limit is for, without a database write per stranger's request.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("wallet.passkit")

LINES_PER_REQUEST = 10
LINE_CHARS = 500
AGENT_CHARS = 120
# Lines written per minute for one client address, and for everyone together.
LINES_PER_ADDRESS = 30
LINES_PER_PROCESS = 600
WINDOW_SECONDS = 60.0


class DeviceLogLimit:
    """Fixed one-minute windows: the counters start again each minute, so memory holds at
    most one minute's addresses."""

    def __init__(self) -> None:
        self._window = -1
        self._by_address: dict[str, int] = {}
        self._total = 0
        self._told: set[str] = set()

    def take(self, address: str, wanted: int, now: float) -> int:
        """How many of ``wanted`` lines this address may write now (counted as taken)."""
        window = int(now // WINDOW_SECONDS)
        if window != self._window:
            self._window, self._total = window, 0
            self._by_address.clear()
            self._told.clear()
        used = self._by_address.get(address, 0)
        granted = max(0, min(wanted, LINES_PER_ADDRESS - used, LINES_PER_PROCESS - self._total))
        if granted or address in self._by_address:
            self._by_address[address] = used + granted
        self._total += granted
        return granted

    def first_refusal(self, address: str) -> bool:
        """True once per window and address, so a flood costs one line saying so."""
        if address in self._told or len(self._told) > 100:
            return False
        self._told.add(address)
        return True


_limit = DeviceLogLimit()


def _shown(text: str, limit: int) -> str:
    # repr escapes every character str.isprintable() refuses (control, format, line and
    # paragraph separators); it is cut before and after, since one character can become ten.
    return repr(text[:limit])[: limit + 2]


def write(lines: list[str], *, address: str, agent: str) -> int:
    """Log what a device reported; returns how many lines were written. Apple's Wallet only
    needs the 200: lines over the limits are dropped silently, and the route still says 200,
    so a device never retries them and a flood learns nothing from the answer."""
    wanted = lines[:LINES_PER_REQUEST]
    granted = _limit.take(address, len(wanted), time.monotonic())
    if granted < len(wanted) and _limit.first_refusal(address):
        log.warning(
            "Wallet device log from %s is over %s lines a minute; its further lines are "
            "dropped until the minute ends",
            address,
            LINES_PER_ADDRESS,
        )
    shown_agent = _shown(agent, AGENT_CHARS)
    for line in wanted[:granted]:
        log.warning(
            "Wallet device %s (%s) reports: %s", address, shown_agent, _shown(line, LINE_CHARS)
        )
    return granted


def forget() -> None:
    """Start the counts again (tests)."""
    global _limit
    _limit = DeviceLogLimit()
