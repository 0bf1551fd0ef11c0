"""What the till recorded about one account, for the shopper's data export (152-FZ)."""

from __future__ import annotations

from typing import Any

from wallet.receipts.tables import ImportedReceipt, Receipt, ReceiptLine, ReceiptReturn


async def receipts_of_account(account_id: int) -> list[dict[str, Any]]:
    """Every receipt of the account with its lines and returns, oldest first."""
    receipts = (
        await Receipt.select(
            Receipt.id,
            Receipt.external_id.as_alias("receipt_id"),
            Receipt.store.code.as_alias("store"),
            Receipt.store.name.as_alias("store_name"),
            Receipt.card.number.as_alias("card_number"),
            Receipt.occurred_at,
            Receipt.total_kopecks,
            Receipt.paid_kopecks,
            Receipt.redeemed_points,
            Receipt.earned_points,
            Receipt.refunded_points,
        )
        .where(Receipt.account_id == account_id)
        .order_by(Receipt.id)
    )
    if not receipts:
        return []
    ids = [row["id"] for row in receipts]
    lines: dict[int, list[dict[str, Any]]] = {pk: [] for pk in ids}
    for line in (
        await ReceiptLine.select(
            ReceiptLine.receipt,
            ReceiptLine.line_no,
            ReceiptLine.sku,
            ReceiptLine.category,
            ReceiptLine.quantity,
            ReceiptLine.amount_kopecks,
            ReceiptLine.redeemed_kopecks,
            ReceiptLine.earned_points,
            ReceiptLine.returned_kopecks,
        )
        .where(ReceiptLine.receipt.is_in(ids))
        .order_by(ReceiptLine.id)
    ):
        lines[line.pop("receipt")].append(line)
    returns: dict[int, list[dict[str, Any]]] = {pk: [] for pk in ids}
    for ret in (
        await ReceiptReturn.select(
            ReceiptReturn.receipt,
            ReceiptReturn.external_id.as_alias("return_id"),
            ReceiptReturn.occurred_at,
        )
        .where(ReceiptReturn.receipt.is_in(ids))
        .order_by(ReceiptReturn.id)
    ):
        returns[ret.pop("receipt")].append(ret)
    for row in receipts:
        row["lines"] = lines[row["id"]]
        row["returns"] = returns[row["id"]]
    return receipts  # type: ignore[no-any-return]


async def imported_of_account(account_id: int) -> list[dict[str, Any]]:
    """The account's purchases from its previous program (brought by an import), oldest
    first."""
    rows = (
        await ImportedReceipt.select(
            ImportedReceipt.old_id.as_alias("receipt_id"),
            ImportedReceipt.occurred_at,
            ImportedReceipt.paid_kopecks,
            ImportedReceipt.category,
        )
        .where(ImportedReceipt.account_id == account_id)
        .order_by(ImportedReceipt.occurred_at, ImportedReceipt.id)
    )
    return rows  # type: ignore[no-any-return]
