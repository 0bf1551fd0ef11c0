from __future__ import annotations

from typing import Annotated

import msgspec

StoreCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class StoreIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: StoreCode
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    address: Annotated[str, msgspec.Meta(max_length=400)] = ""
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    time_zone: str = "Europe/Moscow"


class StorePatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    address: Annotated[str, msgspec.Meta(max_length=400)] | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    time_zone: str | None = None


class Store(msgspec.Struct, frozen=True):
    id: int
    code: str
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    time_zone: str
