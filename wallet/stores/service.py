from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wallet import clock, db
from wallet.errors import Conflict, InvalidInput, StoreNotFound
from wallet.stores.schemas import Store, StoreIn, StorePatch
from wallet.stores.tables import Store as StoreRow

_COLUMNS = (
    StoreRow.id,
    StoreRow.code,
    StoreRow.name,
    StoreRow.address,
    StoreRow.latitude,
    StoreRow.longitude,
    StoreRow.time_zone,
)


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}", {"time_zone": name}) from exc


def _store(row: dict[str, Any]) -> Store:
    return Store(**{column._meta.name: row[column._meta.name] for column in _COLUMNS})


async def create_store(data: StoreIn) -> Store:
    _check_zone(data.time_zone)
    try:
        rows = await StoreRow.insert(
            StoreRow(
                code=data.code,
                name=data.name,
                address=data.address,
                latitude=data.latitude,
                longitude=data.longitude,
                time_zone=data.time_zone,
                created_at=clock.now(),
            )
        ).returning(*_COLUMNS)
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict(f"a store with code {data.code!r} exists", {"code": data.code}) from exc
        raise
    return _store(rows[0])


async def list_stores() -> list[Store]:
    return [_store(row) for row in await StoreRow.select(*_COLUMNS).order_by(StoreRow.code)]


async def get_store(code: str) -> Store:
    row = await StoreRow.select(*_COLUMNS).where(StoreRow.code == code).first()
    if row is None:
        raise StoreNotFound(f"no store with code {code!r}", {"code": code})
    return _store(row)


async def get_store_by_id(store_id: int) -> Store:
    row = await StoreRow.select(*_COLUMNS).where(StoreRow.id == store_id).first()
    if row is None:
        raise StoreNotFound(f"no store with id {store_id}", {"store_id": store_id})
    return _store(row)


async def update_store(code: str, patch: StorePatch) -> Store:
    await get_store(code)
    if patch.time_zone is not None:
        _check_zone(patch.time_zone)
    values = {
        getattr(StoreRow, field): getattr(patch, field)
        for field in StorePatch.__struct_fields__
        if getattr(patch, field) is not None
    }
    if values:
        await StoreRow.update(values).where(StoreRow.code == code)
    return await get_store(code)


async def store_names(store_ids: set[int]) -> dict[int, str]:
    if not store_ids:
        return {}
    rows = await StoreRow.select(StoreRow.id, StoreRow.name).where(
        StoreRow.id.is_in(list(store_ids))
    )
    return {row["id"]: row["name"] for row in rows}
