"""What segments tell the domains above them (through ``wallet.platform.events``)."""

from __future__ import annotations

import msgspec


class SegmentDeleting(msgspec.Struct, frozen=True):
    """A segment is about to be deleted, in the deleting transaction; a subscriber that
    still needs it raises (``segments.SegmentInUse``) and nothing is deleted."""

    segment_id: int
