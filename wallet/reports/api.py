"""Reports over HTTP: ``/api/v1/admin/reports/...``, JSON by default, ``?format=csv|xlsx``
for a file with Russian headers (streamed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get
from litestar.params import QueryParameter
from litestar.response import Stream

from wallet import clock
from wallet.auth.guards import allow
from wallet.http import errors
from wallet.inputs import PathId
from wallet.reports import campaign_outcome, export, health, offer_outcome, service
from wallet.reports.schemas import (
    CampaignOutcome,
    Liability,
    Movements,
    OfferOutcome,
    ProgramHealth,
    ReceiptDetail,
    ReceiptMovementsPage,
)

Format = Literal["json", "csv", "xlsx"]
FormatParam = Annotated[
    Format, QueryParameter(description="json (default), or a file: csv (UTF-8, comma) or xlsx")
]
StoreCode = Annotated[
    str | None,
    QueryParameter(max_length=32, description="only receipts of this store (its code)"),
]
AsOf = Annotated[
    datetime | None, QueryParameter(description="the moment (with its offset); default now")
]
From = Annotated[
    datetime,
    QueryParameter(name="from", description="start of the period, included (with its offset)"),
]
To = Annotated[
    datetime,
    QueryParameter(name="to", description="end of the period, excluded (with its offset)"),
]
MONTH_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$"
FromMonth = Annotated[
    str | None,
    QueryParameter(
        name="from", pattern=MONTH_PATTERN, description="first month, YYYY-MM (program's zone)"
    ),
]
ToMonth = Annotated[
    str | None,
    QueryParameter(
        name="to", pattern=MONTH_PATTERN, description="last month, YYYY-MM; default this one"
    ),
]
ReceiptCursor = Annotated[
    int, QueryParameter(ge=0, le=2**63 - 1, description="next_after of a page")
]

# Finance and marketing read the aggregates; support also reads receipts, one by one.
AGGREGATES = ("admin", "marketer")
RECEIPTS = ("admin", "marketer", "support")


# The routes are annotated with their JSON reply alone, so the document says exactly what
# JSON they give (a union with Response made every reply match two schemas); a file is a
# Response, which Litestar sends as it is.
def file_reply(sheets: list[export.Sheet], kind: Format, name: str) -> Response[Any]:
    if kind == "csv":
        body, media_type, suffix = export.csv_stream(sheets), export.CSV_TYPE, "csv"
    else:
        body, media_type, suffix = export.xlsx_stream(sheets), export.XLSX_TYPE, "xlsx"
    # Litestar gives a streamed reply the route's media type (JSON) over the Stream's own,
    # so the file's type is also set as a header, which wins.
    return Stream(
        body,
        media_type=media_type,
        headers={
            "Content-Type": media_type,
            "Content-Disposition": f'attachment; filename="{name}.{suffix}"',
            "Cache-Control": "no-store",
        },
    )


class ReportsController(Controller):
    path = "/api/v1/admin/reports"
    tags = ["reports"]

    @get(
        "/liability",
        operation_id="pointsLiability",
        summary="Points liability at a moment: outstanding, pending, debt, by tier and store",
        description="Points held at `as_of` (default now; a past moment is rebuilt from "
        "the journal, later movements are not counted). A lot past its expiry no longer "
        "counts, even before the sweep writes it off. `expiring` lists what of "
        "the points held then burns in each of the next twelve months of the program's "
        "zone (the first is the rest of the as-of month). `format=csv|xlsx` gives a file.",
        guards=[allow(*AGGREGATES)],
        responses=errors(422),
    )
    async def liability(self, as_of: AsOf = None, format: FormatParam = "json") -> Liability:
        now = clock.now()
        report = await service.liability(as_of or now, now=now)
        if format == "json":
            return report
        stamp = report.as_of.strftime("%Y%m%d-%H%M")
        return file_reply(export.liability_sheets(report), format, f"liability-{stamp}")  # type: ignore[return-value]

    @get(
        "/movements",
        operation_id="pointMovements",
        summary="Point movements of a period by category, day, store, promotion and offer",
        description="Every ledger movement made in [from, to) (at most 366 days), signed: "
        "earned, promotion, cashback, bonus, redeemed, expired, adjusted, returned, "
        "refunded, other. Days are the program's zone. `store` keeps the receipts of one "
        "store. `format=csv|xlsx` gives a file.",
        guards=[allow(*AGGREGATES)],
        responses=errors(404, 422),
    )
    async def movements(
        self,
        start: From,
        end: To,
        store: StoreCode = None,
        format: FormatParam = "json",
    ) -> Movements:
        report = await service.movements(start, end, store=store)
        if format == "json":
            return report
        name = f"movements-{report.start:%Y%m%d}-{report.end:%Y%m%d}"
        return file_reply(export.movements_sheets(report), format, name)  # type: ignore[return-value]

    @get(
        "/movements/receipts",
        operation_id="pointMovementsByReceipt",
        summary="Point movements of a period, receipt by receipt",
        description="Receipts whose points moved in [from, to), by id; pass next_after as "
        "`after` for the next page. `format=csv|xlsx` streams every receipt of the period.",
        guards=[allow(*RECEIPTS)],
        responses=errors(404, 422),
    )
    async def receipts(
        self,
        start: From,
        end: To,
        store: StoreCode = None,
        after: ReceiptCursor = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=service.PAGE_LIMIT)] = 100,
        format: FormatParam = "json",
    ) -> ReceiptMovementsPage:
        if format == "json":
            return await service.receipt_movements(
                start, end, store=store, after=after, limit=limit
            )
        service.check_period(start, end)
        await service.store_id_of(store)
        sheet = export.Sheet(
            "Чеки",
            export.RECEIPT_HEADERS,
            export.receipt_rows(service.all_receipt_movements(start, end, store=store)),
        )
        name = f"movements-receipts-{start:%Y%m%d}-{end:%Y%m%d}"
        return file_reply([sheet], format, name)  # type: ignore[return-value]

    @get(
        "/movements/receipts/{receipt_id:int}",
        operation_id="receiptMovements",
        summary="One receipt: its lines and every point movement it caused",
        guards=[allow(*RECEIPTS)],
        responses=errors(404),
    )
    async def receipt(self, receipt_id: PathId) -> ReceiptDetail:
        return await service.receipt_detail(receipt_id)

    @get(
        "/campaigns/{campaign_id:int}",
        operation_id="campaignOutcome",
        summary="A campaign's recipients against its held-out control group",
        description="Shoppers the campaign could reach, in two groups: recipients and the "
        "held-out control group (`holdout_bp` of the campaign, drawn by a hash of campaign "
        "and account when it started; they were sent nothing). Over `window_days` from the "
        "start (default 14, at most 90): buyers' share (difference of two proportions, "
        "unpooled Wald 95% interval), receipts, revenue and points per shopper (Welch's t "
        "95% interval). `verdict` is `too_small` when the groups cannot tell; 422 for a "
        "campaign not sent yet. `format=csv|xlsx` gives a file.",
        guards=[allow(*AGGREGATES)],
        responses=errors(404, 422),
    )
    async def campaign(
        self,
        campaign_id: PathId,
        window_days: Annotated[
            int,
            # Checked by the report (422 outside 1..90, like a period too long), not here.
            QueryParameter(description="days after the start to compare over, 1 to 90"),
        ] = campaign_outcome.DEFAULT_WINDOW_DAYS,
        format: FormatParam = "json",
    ) -> CampaignOutcome:
        report = await campaign_outcome.outcome(
            campaign_id, window_days=window_days, now=clock.now()
        )
        if format == "json":
            return report
        name = f"campaign-{campaign_id}-{window_days}d"
        return file_reply(export.campaign_sheets(report), format, name)  # type: ignore[return-value]

    @get(
        "/offers/{offer_id:int}",
        operation_id="cashbackOfferOutcome",
        summary="A cashback offer month by month: opted in, reached, paid, spend against before",
        description="For each month in [from, to] (default: the last 12 up to this one, not "
        "before the offer started; at most 24, 422 beyond or for a month ahead): shoppers "
        "with a goal, reached, missed, still open, cashback points paid; money paid per "
        "opted-in shopper that month and in their average look-back month (the offer's "
        "lookback_months), the same for shoppers who bought in the look-back and did not opt "
        "in, and the difference in differences. `format=csv|xlsx` gives a file.",
        guards=[allow(*AGGREGATES)],
        responses=errors(404, 422),
    )
    async def offer(
        self,
        offer_id: PathId,
        start: FromMonth = None,
        end: ToMonth = None,
        format: FormatParam = "json",
    ) -> OfferOutcome:
        report = await offer_outcome.outcome(offer_id, start=start, end=end, now=clock.now())
        if format == "json":
            return report
        name = f"offer-{offer_id}-{report.months[0].month}-{report.months[-1].month}"
        return file_reply(export.offer_sheets(report), format, name)  # type: ignore[return-value]

    @get(
        "/health",
        operation_id="programHealth",
        summary="Program health: retention cohorts, activity, tiers and RFM groups by month",
        description="Months [from, to] of the program's zone (default: the last 12 up to this "
        "one; at most 24, 422 beyond or for a month ahead). `cohorts`: members by join month "
        "and how many of them bought (money paid) in each month from then on, with the share; "
        "`months`: shoppers who bought, receipts, revenue and the average receipt. "
        "`card_share_note` says why the share of receipts with a card is not given. "
        "`standings`: per month end, accounts per tier and per RFM group, tier moves since the "
        "month end before (up, down, same, new accounts, and every from→to pair) and RFM group "
        "moves (from→to); read from the record the worker makes at each month end, the "
        "current month as of now (`live`: tiers computed now, RFM groups of the last nightly "
        "scoring); a month end not recorded has `recorded` false "
        "and its moves null. `format=csv|xlsx` gives a file (sheets Уровни, Переходы уровней, "
        "Переходы RFM).",
        guards=[allow(*AGGREGATES)],
        responses=errors(422),
    )
    async def health(
        self, start: FromMonth = None, end: ToMonth = None, format: FormatParam = "json"
    ) -> ProgramHealth:
        report = await health.health(start, end, now=clock.now())
        if format == "json":
            return report
        name = f"health-{report.start}-{report.end}"
        return file_reply(export.health_sheets(report), format, name)  # type: ignore[return-value]
