"""Bodies of the PassKit web service (Apple's names, camelCase)."""

from __future__ import annotations

from typing import Annotated

import msgspec


class RegistrationIn(msgspec.Struct, frozen=True):
    push_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] = msgspec.field(
        name="pushToken"
    )


class LogIn(msgspec.Struct, frozen=True):
    logs: list[str] = msgspec.field(default_factory=list)
