"""Promotions over HTTP: marketers draft, simulate, activate, pause and end them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from wallet import clock, db
from wallet.auth.guards import allow
from wallet.http import errors, principal
from wallet.inputs import PathId
from wallet.promotions import coupons, manual, service, simulation
from wallet.promotions.schemas import (
    CouponBatchIn,
    CouponBatchOut,
    ManualDiscountPolicyIn,
    ManualDiscountPolicyOut,
    PromotionIn,
    PromotionOut,
    SimulateIn,
    SimulationOut,
)


class PromotionsAdminController(Controller):
    path = "/api/v1/admin/promotions"
    tags = ["admin: promotions"]
    guards = [allow("marketer", "admin")]

    @post(
        operation_id="createPromotion",
        summary="Create a promotion as a draft",
        description="Conditions and effects are tagged objects (`kind`). Refused with a "
        "machine code: multiplier_out_of_range, window_ends_before_start, set_too_small, "
        "unknown_store / unknown_segment / unknown_category / unknown_sku, ... The reply's "
        "`warnings` name promotions it overlaps and cannot stack with.",
        status_code=201,
        responses=errors(400, 422),
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[PromotionIn]
    ) -> PromotionOut:
        async with db.write_transaction():
            return await service.create(data, actor=principal(request).actor, now=clock.now())

    @get(
        operation_id="listPromotions",
        summary="Every promotion with live counters",
        responses=errors(),
    )
    async def list_promotions(self) -> list[PromotionOut]:
        return await service.list_all()

    @get(
        "/{promotion_id:int}",
        operation_id="getPromotion",
        summary="One promotion",
        responses=errors(404),
    )
    async def get_promotion(self, promotion_id: PathId) -> PromotionOut:
        return await service.get(promotion_id)

    async def _move(
        self, request: Request[Any, Any, Any], promotion_id: int, action: str
    ) -> PromotionOut:
        async with db.write_transaction():
            return await service.move(
                promotion_id, action, actor=principal(request).actor, now=clock.now()
            )

    @post(
        "/{promotion_id:int}/activate",
        operation_id="activatePromotion",
        status_code=200,
        summary="Start applying it at the tills",
        responses=errors(404, 422),
    )
    async def activate(self, request: Request[Any, Any, Any], promotion_id: PathId) -> PromotionOut:
        return await self._move(request, promotion_id, "activate")

    @post(
        "/{promotion_id:int}/pause",
        operation_id="pausePromotion",
        status_code=200,
        summary="Stop applying it for now",
        responses=errors(404, 422),
    )
    async def pause(self, request: Request[Any, Any, Any], promotion_id: PathId) -> PromotionOut:
        return await self._move(request, promotion_id, "pause")

    @post(
        "/{promotion_id:int}/end",
        operation_id="endPromotion",
        status_code=200,
        summary="End it for good",
        responses=errors(404, 422),
    )
    async def end(self, request: Request[Any, Any, Any], promotion_id: PathId) -> PromotionOut:
        return await self._move(request, promotion_id, "end")

    @post(
        "/{promotion_id:int}/simulate",
        operation_id="simulatePromotion",
        status_code=200,
        summary="What it would have given on the last N days of real receipts",
        responses=errors(400, 404),
    )
    async def simulate(self, promotion_id: PathId, data: JSONBody[SimulateIn]) -> SimulationOut:
        return await simulation.simulate_now(promotion_id, days=data.days, now=clock.now())

    @put(
        "/manual-discounts/{store_code:str}",
        operation_id="setManualDiscountPolicy",
        summary="How much a cashier may take off a line by hand at a store, and why",
        responses=errors(400, 422),
    )
    async def set_manual(
        self,
        request: Request[Any, Any, Any],
        store_code: FromPath[str],
        data: JSONBody[ManualDiscountPolicyIn],
    ) -> ManualDiscountPolicyOut:
        async with db.write_transaction():
            return await manual.set_manual_policy(store_code, data, actor=principal(request).actor)

    @post(
        "/{promotion_id:int}/coupons",
        operation_id="createCoupons",
        summary="Make codes for a promotion with a coupon condition",
        description="`count` unique single-use codes (1..1,000,000; the reply's `csv_url` "
        "gives them once), or one shared `code`, or a personal code for each of "
        "`account_ids`; with `valid_from`/`valid_until`, `per_shopper_limit` and "
        "`total_limit`. Refused: coupon_batch_kind, promotion_without_coupon, "
        "promotion_ended, coupon_code_taken (409), unknown_account. From 20,000 unique codes "
        "the worker makes the batch in the background: 202 with `status: making`; list the "
        "promotion's coupons until it is `ready`, then `csv_url` gives the codes once.",
        status_code=201,
        responses={
            202: ResponseSpec(
                data_container=CouponBatchOut,
                description="A big batch accepted; the worker is making its codes.",
            ),
            **errors(400, 404, 409, 422),
        },
    )
    async def create_coupons(
        self, request: Request[Any, Any, Any], promotion_id: PathId, data: JSONBody[CouponBatchIn]
    ) -> Response[CouponBatchOut]:
        async with db.write_transaction():
            made = await service.create_coupons(
                promotion_id, data, actor=principal(request).actor, now=clock.now()
            )
        return Response(made, status_code=202 if made.status == "making" else 201)

    @get(
        "/{promotion_id:int}/coupons",
        operation_id="listCoupons",
        summary="A promotion's coupon batches with their uses",
        responses=errors(404),
    )
    async def list_coupons(self, promotion_id: PathId) -> list[CouponBatchOut]:
        await service.get(promotion_id)
        return await coupons.batches(promotion_id)

    @get(
        "/coupons/{batch_id:int}/codes.csv",
        operation_id="downloadCoupons",
        summary="The batch's codes as CSV, once (only their hashes are kept after)",
        description="409 codes_not_ready while the worker is still making a big batch.",
        media_type="text/csv",
        responses=errors(404, 409, 410),
    )
    async def download_coupons(
        self, request: Request[Any, Any, Any], batch_id: PathId
    ) -> Response[str]:
        async with db.write_transaction():
            text, promotion_id = await coupons.download(
                batch_id, actor=principal(request).actor, now=clock.now()
            )
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="promotion-{promotion_id}-'
                f'coupons-{batch_id}.csv"',
                "Cache-Control": "no-store",
            },
        )
