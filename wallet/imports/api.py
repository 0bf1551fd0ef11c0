"""The admin's import upload: the same as ``wallet import`` for a file sent over HTTP."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from litestar import Controller, Request, post
from litestar.params import QueryParameter

from wallet import clock
from wallet.auth.guards import allow
from wallet.http import errors, principal
from wallet.imports import service

# A file bigger than this goes through `wallet import` on the server (README): one request
# holds one transaction per batch for as long as the file takes.
MAX_UPLOAD = 50 * 1024 * 1024

Kind = Literal["members", "cards", "balances", "receipts"]


class ImportsController(Controller):
    path = "/api/v1/admin/imports"
    tags = ["admin: import from an old program"]
    guards = [allow("admin")]

    @post(
        operation_id="importFile",
        summary="Import members, cards, opening balances or purchase history from a CSV",
        description="The body is the CSV file itself (UTF-8 or Windows-1251, ';' or ',' "
        "between fields; the columns of each kind are in README.md). The whole file is "
        "checked first: with any bad row nothing is written and the 422 lists every bad "
        "row's line, field and reason; `dry_run=true` answers 200 with that list and "
        "writes nothing. Rows are idempotent by their old id (a second upload changes "
        "nothing) and an upload that broke off resumes after its last committed batch.",
        responses=errors(413, 422),
        status_code=200,
        request_max_body_size=MAX_UPLOAD,
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        kind: Annotated[Kind, QueryParameter(description="what the file holds")],
        dry_run: Annotated[
            bool, QueryParameter(description="check and report every bad row, write nothing")
        ] = False,
    ) -> service.ImportReport:
        return await service.run(
            kind,
            # The raw body: Litestar would read a `data` parameter as JSON.
            io.BytesIO(await request.body()),
            now=clock.now(),
            actor=principal(request).actor,
            file_name=f"upload.{kind}.csv",
            dry_run=dry_run,
        )
