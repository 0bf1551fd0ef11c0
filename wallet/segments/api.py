"""Marketers' segments: saved filters, live counts and previews, RFM groups."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromQuery, JSONBody

from wallet import clock, db
from wallet.auth.guards import allow
from wallet.http import errors, principal
from wallet.inputs import PathId
from wallet.segments import service
from wallet.segments.schemas import PreviewOut, RfmOut, SegmentFilter, SegmentIn, SegmentOut


class SegmentsController(Controller):
    path = "/api/v1/admin/segments"
    tags = ["marketer: segments"]
    guards = [allow("marketer", "admin")]

    @get("/", operation_id="listSegments", summary="Saved segments", responses=errors())
    async def list_segments(self) -> list[SegmentOut]:
        return await service.list_segments()

    @post(
        "/",
        operation_id="createSegment",
        summary="Save a segment (a filter over shoppers)",
        responses=errors(404, 422),
    )
    async def create_segment(
        self, request: Request[Any, Any, Any], data: JSONBody[SegmentIn]
    ) -> SegmentOut:
        async with db.write_transaction():
            return await service.create_segment(
                data, actor=principal(request).actor, now=clock.now()
            )

    @post(
        "/preview",
        operation_id="previewFilter",
        summary="Count and sample of an unsaved filter",
        status_code=200,
        responses=errors(404, 422),
    )
    async def preview_filter(
        self, data: JSONBody[SegmentFilter], sample: FromQuery[int] = 10
    ) -> PreviewOut:
        return await service.preview(data, now=clock.now(), sample_size=min(max(sample, 0), 100))

    @get(
        "/rfm",
        operation_id="rfmGroups",
        summary="Accounts per RFM group (as of the last scoring)",
        responses=errors(),
    )
    async def rfm(self) -> RfmOut:
        groups = await service.rfm_groups()
        return RfmOut(scored=sum(g.accounts for g in groups), groups=groups)

    @post(
        "/rfm",
        operation_id="scoreRfm",
        summary="Score every account now (the nightly job, on demand)",
        status_code=200,
        responses=errors(),
    )
    async def score_rfm(self) -> RfmOut:
        return await service.score_rfm(now=clock.now())

    @get("/{segment_id:int}", operation_id="getSegment", summary="A segment", responses=errors(404))
    async def get_segment(self, segment_id: PathId) -> SegmentOut:
        return await service.get_segment(segment_id)

    @put(
        "/{segment_id:int}",
        operation_id="updateSegment",
        summary="Change a segment's name or filter",
        responses=errors(404, 422),
    )
    async def update_segment(self, segment_id: PathId, data: JSONBody[SegmentIn]) -> SegmentOut:
        async with db.write_transaction():
            return await service.update_segment(segment_id, data, now=clock.now())

    @delete(
        "/{segment_id:int}",
        operation_id="deleteSegment",
        summary="Delete a segment",
        description="Refused (409 segment_in_use, naming the offers) while an active "
        "cashback offer lets this segment's shoppers opt in.",
        responses=errors(404, 409),
    )
    async def delete_segment(self, segment_id: PathId) -> None:
        async with db.write_transaction():
            await service.delete_segment(segment_id)

    @get(
        "/{segment_id:int}/preview",
        operation_id="previewSegment",
        summary="Live count and a sample of a saved segment",
        responses=errors(404),
    )
    async def preview_segment(self, segment_id: PathId, sample: FromQuery[int] = 10) -> PreviewOut:
        segment = await service.get_segment(segment_id)
        return await service.preview(
            segment.filter, now=clock.now(), sample_size=min(max(sample, 0), 100)
        )
