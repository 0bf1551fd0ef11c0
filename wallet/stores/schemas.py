from __future__ import annotations

from typing import Annotated

import msgspec

from wallet import inputs

StoreCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class StoreIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: StoreCode
    name: inputs.Name
    address: inputs.Address = ""
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    time_zone: inputs.Label = "Europe/Moscow"


class StorePatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: inputs.Name | None = None
    address: inputs.Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    time_zone: inputs.Label | None = None


class Store(msgspec.Struct, frozen=True):
    id: int
    code: str
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    time_zone: str
