"""A till finds a shopper by phone: ``GET /api/v1/pos/lookup?phone=...``.

It lives with sign-in, not the till: it is a way to find who a member is, limited the
same way (``signin.limits``) so it cannot be used to probe who is one.

The reply is the identify reply of the shopper's main card with an opaque, short-lived
card reference in ``card_number`` instead of the number: the till uses it like a number,
but spending points with it needs the code the shopper is texted
(``receipts/spend_codes.py``), so a till cannot skip the code by claiming it scanned the
card. An unknown number is 404. Every lookup (found or not) counts
against the till key's allowance (``WALLET_POS_LOOKUPS_PER_HOUR``), so a till key cannot
walk the number space to list members: 429 with Retry-After beyond it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from wallet import clock, db, phones
from wallet import settings as settings_module
from wallet.auth.guards import allow
from wallet.errors import ErrorReply, NotFound
from wallet.http import errors, principal
from wallet.members.tables import Card, Member
from wallet.receipts import service, spend_codes
from wallet.receipts.schemas import CardStatusOut
from wallet.signin import limits

WINDOW = timedelta(hours=1)


class ShopperNotFound(NotFound):
    code = "shopper_not_found"


async def card_of_phone(phone: str) -> str | None:
    """The number of the main card of the member with this phone (E.164), or None."""
    member = (
        await Member.select(Member.account)
        .where((Member.phone == phone) & Member.erased_at.is_null())
        .first()
    )
    if member is None:
        return None
    cards = await Card.select(Card.number, Card.role, Card.status).where(
        Card.account == member["account"]
    )
    # The main card, else any active one (a main card replaced by a plastic one).
    ranked = sorted(cards, key=lambda c: (c["role"] != "main", c["status"] != "active"))
    return ranked[0]["number"] if ranked else None


class LookupController(Controller):
    path = "/api/v1/pos"
    tags = ["till (POS)"]
    guards = [allow("pos")]

    @get(
        "/lookup",
        operation_id="lookupShopper",
        summary="Find a shopper by phone: the same reply as identifying their card",
        description="`phone` may be typed any way (`8 (912) 345-67-89`); an invalid number is "
        "422 naming the field, an unknown one 404 `shopper_not_found`. Each till key may look "
        "up WALLET_POS_LOOKUPS_PER_HOUR numbers an hour (found or not): 429 with Retry-After.",
        responses={
            **errors(404, 422),
            429: ResponseSpec(
                data_container=ErrorReply,
                description="This till key looked up too many numbers (header Retry-After).",
            ),
        },
    )
    async def lookup(
        self,
        request: Request[Any, Any, Any],
        phone: Annotated[str, Parameter(min_length=1, max_length=phones.MAX_TYPED)],
    ) -> CardStatusOut:
        return await find_by_phone(phone, key_id=principal(request).key_id, now=clock.now())


async def find_by_phone(phone: str, *, key_id: int | None, now: datetime) -> CardStatusOut:
    """The identify reply of the main card of the member with ``phone`` (typed any way),
    counted against the till key's hourly allowance; the API and the web till both ask
    here."""
    number = phones.normalise(phone, field="phone")
    per_hour = settings_module.get().pos_lookups_per_hour
    async with db.write_transaction():
        await limits.take(
            [
                limits.Limit(
                    f"pos_lookup:{key_id}",
                    per_hour,
                    WINDOW,
                    "this till key looked up too many phone numbers; try again later",
                )
            ],
            now=now,
        )
    card = await card_of_phone(number)
    if card is None:
        raise ShopperNotFound("no shopper with this phone", {"field": "phone"})
    # The till gets a card reference, not the number: spending with it needs the code the
    # shopper is texted (receipts/spend_codes.py).
    found = await service.identify(card, now=now)
    return msgspec.structs.replace(
        found, card_number=spend_codes.reference(found.card_number, now=now)
    )
