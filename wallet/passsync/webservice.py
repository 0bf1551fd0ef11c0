"""Apple's PassKit web service and the .pkpass download: building and signing a card's
pass, serving its latest version to Wallet, and devices registering for its updates.

Requests from Wallet carry ``Authorization: ApplePass <token>`` (``links.pass_token``),
checked before anything is looked up.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

import msgspec

from passes.apple import PassSigner, build_pkpass
from wallet import db, runtime, settings
from wallet.errors import CardNotFound, NotFound, Unauthorized
from wallet.members import service as members
from wallet.members.service import CardInfo
from wallet.passsync import queries
from wallet.passsync.links import pass_token, token_matches
from wallet.passsync.rows import ensure_pass, pass_row
from wallet.passsync.tables import PassRegistration
from wallet.passsync.view import account_view, apple_settings, card_state, program


class PassNotFound(NotFound):
    code = "pass_not_found"


def signer() -> PassSigner:
    """The runtime's pass signer (its key and certificates are read once)."""
    return runtime.current().signer()


class BuiltPass(msgspec.Struct, frozen=True):
    data: bytes
    modified_at: datetime


async def _build(card: CardInfo, row: dict[str, Any], now: datetime) -> BuiltPass:
    view = await account_view(card.account_id, now)
    state = card_state(card, view, row, row["modified_at"])
    prog = await program(now)
    data = await asyncio.to_thread(
        build_pkpass, state, prog, apple_settings(), pass_token(card.pass_serial), signer()
    )
    return BuiltPass(data=data, modified_at=row["modified_at"])


async def download_pass(card_number: str, *, now: datetime) -> BuiltPass:
    """The .pkpass behind a signed link (the link was checked by the caller)."""
    card = await members.find_card(card_number)
    row = await ensure_pass(card, now=now)
    return await _build(card, row, now)


def _authorize(pass_type_id: str, serial: str, authorization: str | None) -> None:
    # Checked before anything is looked up, so a caller without the token learns nothing
    # about which serials exist.
    if pass_type_id != settings.get().pass_type_id or not token_matches(serial, authorization):
        raise Unauthorized("missing or wrong ApplePass token")


async def latest_pass(
    pass_type_id: str,
    serial: str,
    *,
    authorization: str | None,
    if_modified_since: datetime | None,
    now: datetime,
) -> BuiltPass | None:
    """The pass as it is now, or None when the device's copy is current (304)."""
    _authorize(pass_type_id, serial, authorization)
    row = await pass_row(serial)
    if row is None:
        raise PassNotFound(f"no pass {serial}")
    if if_modified_since is not None and if_modified_since >= row["modified_at"]:
        return None
    try:
        card = await members.find_card_by_id(row["card_id"])
    except CardNotFound as exc:
        raise PassNotFound(f"no pass {serial}") from exc
    return await _build(card, row, now)


async def register_device(
    *,
    device_id: str,
    pass_type_id: str,
    serial: str,
    push_token: str,
    authorization: str | None,
    now: datetime,
) -> bool:
    """Register a device for a pass's updates; True when new (201), False when known (200)."""
    _authorize(pass_type_id, serial, authorization)
    row = await pass_row(serial)
    if row is None:
        raise PassNotFound(f"no pass {serial}")
    async with db.write_transaction():
        # Read under the pass row's lock: a refresh giving it a new tag either committed
        # before (we store that tag) or flags this registration after we commit.
        locked = await db.fetch(queries.LOCK_PASS_TAG, row["id"])
        inserted = await (
            PassRegistration.insert(
                PassRegistration(
                    key=f"{device_id}:{serial}",
                    device_id=device_id,
                    serial=serial,
                    push_token=push_token,
                    # The device has just downloaded the current version.
                    pushed_tag=locked[0]["tag"],
                    created_at=now,
                )
            )
            .on_conflict(target=PassRegistration.key, action="DO NOTHING")
            .returning(PassRegistration.id)
        )
        if not inserted:
            # A restored phone may come back with a new push token.
            await PassRegistration.update({PassRegistration.push_token: push_token}).where(
                PassRegistration.key == f"{device_id}:{serial}"
            )
    return bool(inserted)


async def unregister_device(
    *, device_id: str, pass_type_id: str, serial: str, authorization: str | None
) -> None:
    _authorize(pass_type_id, serial, authorization)
    async with db.write_transaction():
        await PassRegistration.delete().where(PassRegistration.key == f"{device_id}:{serial}")


class UpdatedSerials(msgspec.Struct, frozen=True):
    serial_numbers: list[str] = msgspec.field(name="serialNumbers")
    last_updated: str = msgspec.field(name="lastUpdated")


# Tags we hand out are decimal counter values that fit the bigint column with room to spare.
_TAG = re.compile(r"[0-9]{1,18}")


def _our_tag(since: str | None) -> int | None:
    """The tag a device sent back, or None for one we never gave (``²``, 20 digits, text).

    A device only echoes our own ``lastUpdated``, so anything else is a corrupted or forged
    value; answering with every pass of the device (as for a first sync) is what Wallet
    copes with: it fetches each with If-Modified-Since and gets cheap 304s, where a 4xx
    would leave it retrying the same bad tag and never learn of changes.
    """
    if since is None or not _TAG.fullmatch(since.strip()):
        return None
    return int(since.strip())


async def serials_updated_since(
    device_id: str, pass_type_id: str, since: str | None
) -> UpdatedSerials | None:
    """All of this device's passes changed after tag ``since`` (all of them without a tag);
    None (204) when there are none or the device is unknown."""
    if pass_type_id != settings.get().pass_type_id:
        return None
    tag = _our_tag(since)
    args = [device_id] if tag is None else [device_id, tag]
    rows = await db.fetch(queries.serials_updated_since(after_tag=tag is not None), *args)
    if not rows:
        return None
    return UpdatedSerials(
        serial_numbers=[row["serial"] for row in rows],
        last_updated=str(max(int(row["tag"]) for row in rows)),
    )
