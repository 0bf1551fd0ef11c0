"""Who is signed in to the console: the staff key kept in the console's cookie
(``wallet.web.sessions.STAFF``), checked like a bearer key on every request so revoking
the key ends the session. The app provides it to console controllers as the ``staff``
dependency (``None``: nobody, or a key whose role may not use the console)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from wallet.auth.service import authenticate
from wallet.errors import Unauthorized
from wallet.web.sessions import STAFF, StaffSession

CONSOLE_ROLES = ("marketer", "admin")


async def console_staff(request: Request[Any, Any, Any]) -> StaffSession | None:
    key = STAFF.token(request)
    if not key:
        return None
    try:
        found = await authenticate(key)
    except Unauthorized:
        return None
    if found.role not in CONSOLE_ROLES:
        return None
    return StaffSession(name=found.name, role=found.role, actor=found.actor, key=key)
