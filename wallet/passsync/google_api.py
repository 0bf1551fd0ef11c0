"""The Google Wallet REST API (walletobjects/v1), authorised with the service account.

The bearer is a self-signed JWT (google-auth's ``jwt.Credentials`` with the API's audience),
which Google accepts for its APIs in place of an OAuth access token: it is signed locally,
so no request goes anywhere but the configured API base URL.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
from google.auth import jwt as google_jwt

from wallet import observe, runtime

log = logging.getLogger("wallet.google")

AUDIENCE = "https://walletobjects.googleapis.com/"


class GoogleReply:
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body

    @property
    def retry(self) -> bool:
        return self.status == 429 or self.status >= 500

    def __repr__(self) -> str:
        return f"GoogleReply({self.status}, {str(self.body)[:200]!r})"


class GoogleWalletClient:
    def __init__(self, *, base_url: str, service_account: Path) -> None:
        info = json.loads(service_account.read_text())
        self._credentials = google_jwt.Credentials.from_service_account_info(
            info, audience=AUDIENCE
        )
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))

    def _bearer(self) -> str:
        if not self._credentials.valid:
            self._credentials.refresh(None)  # local signing; the request is not used
        token = self._credentials.token
        return token.decode() if isinstance(token, bytes) else str(token)

    async def _call(self, method: str, path: str, body: dict[str, Any]) -> GoogleReply:
        try:
            with observe.timed("google"):
                reply = await self._http.request(
                    method,
                    f"{self.base_url}/{path}",
                    json=body,
                    headers={"authorization": f"Bearer {self._bearer()}"},
                )
        except httpx.HTTPError as exc:
            observe.delivered("google", "failed", "unreachable")
            return GoogleReply(503, f"{type(exc).__name__}: {exc}")
        # A 409 to an insert means the object is there already: Google has what we sent.
        if reply.status_code < 400 or reply.status_code == 409:
            observe.delivered("google", "sent")
        else:
            observe.delivered("google", "failed", str(reply.status_code))
        try:
            parsed: Any = reply.json()
        except ValueError:
            parsed = reply.text[:500]
        return GoogleReply(reply.status_code, parsed)

    async def insert_class(self, body: dict[str, Any]) -> GoogleReply:
        return await self._call("POST", "loyaltyClass", body)

    async def insert_object(self, body: dict[str, Any]) -> GoogleReply:
        return await self._call("POST", "loyaltyObject", body)

    async def patch_object(self, object_id: str, body: dict[str, Any]) -> GoogleReply:
        return await self._call("PATCH", f"loyaltyObject/{object_id}", body)

    async def add_message(self, object_id: str, body: dict[str, Any]) -> GoogleReply:
        return await self._call("POST", f"loyaltyObject/{object_id}/addMessage", body)

    async def close(self) -> None:
        await self._http.aclose()


def client() -> GoogleWalletClient:
    """The runtime's Google Wallet client for its settings and event loop (closed with it)."""
    running = runtime.current()
    cfg = running.settings
    return running.client(
        ("google", cfg.google_api_url, str(cfg.certs_dir), runtime.loop_id()),
        lambda: GoogleWalletClient(
            base_url=cfg.google_api_url,
            service_account=cfg.certs_dir / "google-service-account.json",
        ),
    )


async def close_all() -> None:
    """Close the runtime's Google clients now."""
    await runtime.current().close_clients("google")
