"""Who a campaign would reach, per channel, if it went now, and why the others would not
(no consent, unsubscribed, no address, no pass in a wallet): shown before sending, so the
number a marketer confirms is who gets the message, not the segment's size."""

from __future__ import annotations

from datetime import datetime

import msgspec

from wallet import db
from wallet.campaigns import queries
from wallet.campaigns.schemas import ChannelReach
from wallet.segments import service as segments
from wallet.segments.schemas import SegmentFilter


async def reach(
    flt: SegmentFilter, channels: list[str], *, now: datetime
) -> tuple[int, list[ChannelReach]]:
    """How many shoppers of ``flt`` at least one of ``channels`` reaches, and per channel
    how many it reaches and, by reason, how many it does not; in one query."""
    p = db.Params()
    compiled = await segments.compile_filter(flt, now=now, params=p)
    known = [c for c in channels if c in queries.REACH_CHANNELS]
    rows = await db.fetch(queries.reach(known, compiled.where), *p.values)
    reachable = 0
    tallies = {c: ChannelReach(channel=c, reachable=0, unreachable={}) for c in known}
    for row in rows:
        n = int(row["n"])
        outcomes = [str(row[f"c{i}"] or "") for i in range(len(known))]
        if any(outcome == "" for outcome in outcomes):
            reachable += n
        for channel, outcome in zip(known, outcomes, strict=True):
            tally = tallies[channel]
            if outcome == "":
                tallies[channel] = msgspec.structs.replace(tally, reachable=tally.reachable + n)
            else:
                tally.unreachable[outcome] = tally.unreachable.get(outcome, 0) + n
    return reachable, list(tallies.values())
