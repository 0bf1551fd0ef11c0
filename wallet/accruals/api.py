"""Bulk and scheduled accruals over HTTP (marketers and admins): preview, create, list,
cancel. The runs themselves are the worker's (``jobs.py``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from wallet import clock, db
from wallet.accruals import service
from wallet.accruals.schemas import AccrualIn, AccrualOut, AccrualPreviewIn, AccrualPreviewOut
from wallet.auth.guards import allow
from wallet.http import errors, principal
from wallet.inputs import PathId


class AccrualsController(Controller):
    path = "/api/v1/admin/accruals"
    tags = ["admin: accruals"]
    guards = [allow("marketer", "admin")]

    @post(
        "/preview",
        operation_id="previewAccrual",
        summary="How many shoppers of a segment a credit or debit reaches now, and its cost",
        description="Refused: 404 segment_not_found; 422 accrual_segment_empty (nobody in "
        "the segment now), accrual_points_zero.",
        status_code=200,
        responses=errors(400, 404, 422),
    )
    async def preview(self, data: JSONBody[AccrualPreviewIn]) -> AccrualPreviewOut:
        return await service.preview(data, now=clock.now())

    @post(
        operation_id="createAccrual",
        summary="Credit or debit every account of a saved segment, now or later, once or monthly",
        description="Each account gets one journal entry per run, with the reason and the "
        "marketer as its actor; a rerun or a crash mid-run moves nobody twice. A credit is "
        "a lot valid `valid_days`; a debit takes at most what an account holds. Refused: "
        "404 segment_not_found; 422 accrual_segment_empty, accrual_points_zero, "
        "run_at_needs_offset.",
        status_code=201,
        responses=errors(400, 404, 422),
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[AccrualIn]
    ) -> AccrualOut:
        async with db.write_transaction():
            return await service.create(data, actor=principal(request).actor, now=clock.now())

    @get(
        operation_id="listAccruals", summary="Every accrual with what it moved", responses=errors()
    )
    async def list_accruals(self) -> list[AccrualOut]:
        return await service.list_all()

    @get(
        "/{accrual_id:int}",
        operation_id="getAccrual",
        summary="One accrual: its status, runs and what it moved",
        responses=errors(404),
    )
    async def get_accrual(self, accrual_id: PathId) -> AccrualOut:
        return await service.get(accrual_id)

    @post(
        "/{accrual_id:int}/cancel",
        operation_id="cancelAccrual",
        summary="Stop a scheduled accrual (a monthly one's later runs too)",
        description="Refused: 422 accrual_not_scheduled (done, running or cancelled).",
        status_code=200,
        responses=errors(404, 422),
    )
    async def cancel(self, request: Request[Any, Any, Any], accrual_id: PathId) -> AccrualOut:
        async with db.write_transaction():
            return await service.cancel(accrual_id, actor=principal(request).actor)
