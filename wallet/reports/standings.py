"""Tiers and RFM groups at each month end of a period, and who moved between them: the
program-health figures read from the month-end record that ``segments.standing`` keeps
(the current month computed live, as of now).

A move up or down compares the tiers' thresholds as they were at each month end, so a
renamed or re-priced ladder still reads right. Tier changes between month ends (a rolling
window crossed and crossed back within a month) are not counted: only where an account
stood at each month end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from wallet.reports.schemas import GroupCount, Move, StandingMonth, TierCount, TierMoves
from wallet.segments import standing
from wallet.segments.schemas import RFM_GROUPS

STANDINGS_NOTE = (
    "Tiers and RFM groups are recorded for every account at each month end by the worker's "
    "month-end job (from its first month on; `wallet record-standings` fills earlier months "
    "from the receipts). The current month is now: tiers computed live, RFM groups as of the "
    "last nightly scoring. Moves compare two month ends; tier changes within a month that "
    "are undone by its end are not counted."
)


async def standings(months: list[str], *, now: datetime) -> list[StandingMonth]:
    """Each month end of ``months`` (ascending): tiers and RFM groups, and the moves since
    the month end before when both are recorded; the current month as of now."""
    first, last = months[0], months[-1]
    current = standing.month_key(now)
    records = {
        r.month: r for r in await standing.recorded_months(standing.shift_month(first, -1), last)
    }
    counted = await standing.month_moves(first, last)
    if first <= current <= last:
        counted[current] = await standing.moves_now(now=now)
    order = {t.name: n for n, t in enumerate(await standing.tier_ladder(now=now))}
    out = []
    for month in months:
        rows = counted.get(month, [])
        live = month == current
        recorded = live or month in records
        before = standing.shift_month(month, -1) in records
        out.append(
            _month(
                month,
                rows,
                order,
                live=live,
                recorded=recorded,
                before=before,
                now=now,
                records=records,
            )
        )
    return out


def _month(
    month: str,
    rows: list[standing.MoveCount],
    order: dict[str, int],
    *,
    live: bool,
    recorded: bool,
    before: bool,
    now: datetime,
    records: dict[str, standing.MonthRecord],
) -> StandingMonth:
    tiers: dict[str, list[int]] = {}
    groups: dict[str, int] = defaultdict(int)
    tier_pairs: dict[tuple[str | None, str], int] = defaultdict(int)
    group_pairs: dict[tuple[str | None, str | None], int] = defaultdict(int)
    up = down = same = joined = 0
    for row in rows:
        floor_count = tiers.setdefault(row.tier, [row.tier_floor_kopecks, 0])
        floor_count[1] += row.accounts
        if row.rfm_group is not None:
            groups[row.rfm_group] += row.accounts
        if not before:
            continue
        tier_pairs[(row.prev_tier, row.tier)] += row.accounts
        if row.prev_rfm_group is not None or row.rfm_group is not None:
            group_pairs[(row.prev_rfm_group, row.rfm_group)] += row.accounts
        if row.prev_tier is None or row.prev_floor_kopecks is None:
            joined += row.accounts
        elif row.tier_floor_kopecks > row.prev_floor_kopecks:
            up += row.accounts
        elif row.tier_floor_kopecks < row.prev_floor_kopecks:
            down += row.accounts
        else:
            same += row.accounts

    def tier_key(name: str | None) -> tuple[int, int, str]:
        if name is None:
            return (-1, 0, "")
        floor = tiers.get(name, [0])[0]
        return (0, order.get(name, len(order) + floor), name)

    group_order = {name: n for n, name in enumerate(RFM_GROUPS)}

    def group_key(name: str | None) -> tuple[int, str]:
        return (-1, "") if name is None else (group_order.get(name, len(group_order)), name)

    names = sorted(set(order) | set(tiers), key=tier_key)
    record = records.get(month)
    return StandingMonth(
        month=month,
        as_of=now if live else (record.as_of if record else None),
        live=live,
        recorded=recorded,
        accounts=sum(r.accounts for r in rows),
        tiers=[
            TierCount(
                tier=name,
                min_spend_kopecks=tiers[name][0] if name in tiers else 0,
                accounts=tiers[name][1] if name in tiers else 0,
            )
            for name in names
            if name in tiers or recorded
        ],
        rfm_groups=[GroupCount(group=g, accounts=groups.get(g, 0)) for g in RFM_GROUPS]
        if recorded
        else [],
        tier_moves=TierMoves(
            up=up,
            down=down,
            same=same,
            joined=joined,
            matrix=[
                Move(from_=a, to=b, accounts=n)
                for (a, b), n in sorted(
                    tier_pairs.items(), key=lambda kv: (tier_key(kv[0][0]), tier_key(kv[0][1]))
                )
            ],
        )
        if before and recorded
        else None,
        rfm_moves=[
            Move(from_=a, to=b, accounts=n)
            for (a, b), n in sorted(
                group_pairs.items(), key=lambda kv: (group_key(kv[0][0]), group_key(kv[0][1]))
            )
        ]
        if before and recorded
        else None,
    )


@dataclass(frozen=True)
class Matrix:
    """from→to counts laid out for a table: ``rows`` and ``cols`` in ladder (or group)
    order, None for "no record before" / "no shopper"."""

    rows: list[str | None]
    cols: list[str | None]
    cells: dict[tuple[str | None, str | None], int]

    def total(self, row: str | None) -> int:
        return sum(n for (a, _), n in self.cells.items() if a == row)

    def share(self, row: str | None, col: str | None) -> float:
        total = self.total(row)
        return self.cells.get((row, col), 0) / total if total else 0.0


def matrix(moves: list[Move], order: list[str]) -> Matrix:
    """The pairs of ``moves`` as a table over ``order`` (names not in it go last)."""
    cells = {(m.from_, m.to): m.accounts for m in moves}

    def key(name: str | None) -> tuple[int, str]:
        return (
            (-1, "") if name is None else (order.index(name) if name in order else len(order), name)
        )

    rows = sorted({a for a, _ in cells}, key=key)
    cols = sorted({b for _, b in cells} | {n for n in order}, key=key)
    return Matrix(rows=rows, cols=cols, cells=cells)
