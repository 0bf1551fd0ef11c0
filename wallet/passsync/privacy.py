"""The devices that registered a shopper's passes: shown in their data export, dropped
when they are erased."""

from __future__ import annotations

from typing import Any

from wallet.passsync.tables import GoogleObject, PassCard, PassRegistration


async def devices_of_account(account_id: int) -> list[dict[str, Any]]:
    """Every device registered for one of the account's passes and every Google object
    saved (the device id is Apple's; push tokens are secrets of the device, not shown)."""
    serials = [
        row["serial"]
        for row in await PassCard.select(PassCard.serial).where(PassCard.account_id == account_id)
    ]
    found: list[dict[str, Any]] = []
    if serials:
        for row in (
            await PassRegistration.select(
                PassRegistration.device_id, PassRegistration.serial, PassRegistration.created_at
            )
            .where(PassRegistration.serial.is_in(serials))
            .order_by(PassRegistration.id)
        ):
            found.append({"wallet": "apple", **row})
    for row in await GoogleObject.select(
        GoogleObject.object_id, GoogleObject.saved_at.as_alias("created_at")
    ).where(GoogleObject.account_id == account_id):
        found.append({"wallet": "google", **row})
    return found


async def pending_pushes(account_id: int) -> int:
    """Registrations of the account's passes not yet told about the pass's latest change."""
    serials = [
        row["serial"]
        for row in await PassCard.select(PassCard.serial).where(PassCard.account_id == account_id)
    ]
    if not serials:
        return 0
    return await PassRegistration.count().where(  # type: ignore[no-any-return]
        PassRegistration.serial.is_in(serials) & (PassRegistration.push_due == True)  # noqa: E712
    )


async def drop_registrations(account_id: int) -> int:
    """Forget the devices of the account's passes (after the voided pass was pushed)."""
    serials = [
        row["serial"]
        for row in await PassCard.select(PassCard.serial).where(PassCard.account_id == account_id)
    ]
    if not serials:
        return 0
    rows = (
        await PassRegistration.delete()
        .where(PassRegistration.serial.is_in(serials))
        .returning(PassRegistration.id)
    )
    return len(rows)
