from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody

from wallet import clock, db
from wallet.auth.guards import allow
from wallet.bonuses import service
from wallet.bonuses.schemas import BonusesIn, BonusesOut, ReferralCodeIn, ReferralOut
from wallet.http import errors, principal


class BonusesAdminController(Controller):
    path = "/api/v1/admin/bonuses"
    tags = ["marketer: event bonuses"]
    guards = [allow("marketer", "admin")]

    @get(operation_id="getBonuses", summary="The event bonuses in force", responses=errors())
    async def get_bonuses(self) -> BonusesOut:
        return await service.current()

    @put(
        operation_id="putBonuses",
        summary="Set the event bonuses: welcome, birthday, referral, profile, consent",
        description="The whole set: a kind left out is off. Takes effect within seconds; "
        "bonuses already paid stay paid.",
        responses=errors(400, 422),
    )
    async def put_bonuses(
        self, request: Request[Any, Any, Any], data: JSONBody[BonusesIn]
    ) -> BonusesOut:
        who = principal(request)
        async with db.write_transaction():
            return await service.put(data, actor=who.actor, now=clock.now())


class MyReferralController(Controller):
    path = "/api/v1/me/referral"
    tags = ["shopper"]
    guards = [allow("shopper")]

    @post(
        operation_id="addMyReferral",
        summary="I joined without it: add a friend's referral code",
        description="Only before the first paid receipt; refused (409 referral_refused, "
        "details.reason) for the shopper's own code or account, or a second time.",
        status_code=201,
        responses=errors(400, 409, 422),
    )
    async def add(
        self, request: Request[Any, Any, Any], data: JSONBody[ReferralCodeIn]
    ) -> ReferralOut:
        who = principal(request)
        assert who.account_id is not None
        async with db.write_transaction():
            referrer = await service.add_referral(who.account_id, data.code, now=clock.now())
        return ReferralOut(referrer_account_id=referrer, status="waiting")
