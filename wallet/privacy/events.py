"""What an erase tells the domains it does not call (published through
``wallet.platform.events``, in the erase's transaction; webhooks listen, through
``wallet.wiring``)."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ErasedCard(msgspec.Struct, frozen=True):
    card_id: int
    card_number: str


class MemberErased(msgspec.Struct, frozen=True):
    """A shopper was erased (152-FZ): systems that keep their own copy of the person (a
    CRM) delete it. Only what identifies the member in the other events, kept here after
    the erase too (the anonymous account, its blocked cards): never a name, phone or email.
    ``source``: who asked, ``shopper``, ``support`` or ``retention`` (never support's
    reason, which may name the person). Published after the account's webhook deliveries
    were erased, so it is the one that goes."""

    member_id: int
    account_id: int
    cards: tuple[ErasedCard, ...]
    source: str
    now: datetime
