"""Stand-in APNs and Google Wallet on loopback, the service pointed at them, and a phone
that speaks Apple's PassKit web service protocol through the real HTTP API."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.apns_standin import ApnsStandIn, running_apns
from tests.support.google_standin import GoogleStandIn, running_google
from tests.support.shop import Shop, Shopper
from wallet import settings as settings_module
from wallet.passsync import apns, google_api
from wallet.passsync.tables import GoogleObject, PassCard, PassRegistration


@dataclass
class Wallets:
    apns: ApnsStandIn
    google: GoogleStandIn


@pytest.fixture
async def wallets(database: Any, certs_dir: Path, tmp_path: Path) -> AsyncIterator[Wallets]:
    async with running_apns(certs_dir, tmp_path) as apple, running_google(certs_dir) as google:
        settings_module.override(
            dataclasses.replace(
                settings_module.get(),
                # Wallet accepts a plain-http webServiceURL only for localhost.
                base_url="https://testserver.local",
                apns_url=apple.url,
                apns_ca=str(certs_dir / "apple-root.pem"),
                google_api_url=google.url,
            )
        )
        try:
            yield Wallets(apple, google)
        finally:
            await apns.close_all()
            await google_api.close_all()


async def wallets_holding(account_id: int) -> set[str]:
    """Which wallets hold a pass of the account: "apple" (a registered device), "google"
    (a saved object)."""
    found: set[str] = set()
    serials = [
        r["serial"]
        for r in await PassCard.select(PassCard.serial).where(PassCard.account_id == account_id)
    ]
    if serials and await PassRegistration.exists().where(PassRegistration.serial.is_in(serials)):
        found.add("apple")
    if await GoogleObject.exists().where(GoogleObject.account_id == account_id):
        found.add("google")
    return found


def local(url: str) -> str:
    """A link the service handed out, as a path for the in-process client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Pass:
    serial: str
    token: str
    pass_type: str
    web_service_url: str
    json: dict[str, Any]


def read_pkpass(data: bytes) -> Pass:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        doc = json.loads(bundle.read("pass.json"))
    return Pass(
        serial=doc["serialNumber"],
        token=doc["authenticationToken"],
        pass_type=doc["passTypeIdentifier"],
        web_service_url=doc["webServiceURL"],
        json=doc,
    )


async def download_pass(shop: Shop, shopper: Shopper) -> Pass:
    me = await shop.me(shopper)
    reply = await shop.client.get(local(me["links"]["apple_pass"]))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/vnd.apple.pkpass")
    return read_pkpass(reply.content)


@dataclass
class Phone:
    """An iPhone's Wallet talking to the web service at the pass's webServiceURL."""

    client: httpx.AsyncClient
    device_id: str
    push_token: str

    def _base(self, card: Pass) -> str:
        return urlsplit(card.web_service_url).path + "/v1"

    def _auth(self, card: Pass, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"ApplePass {token or card.token}"}

    async def register(self, card: Pass, token: str | None = None) -> httpx.Response:
        return await self.client.post(
            f"{self._base(card)}/devices/{self.device_id}/registrations/{card.pass_type}/{card.serial}",
            json={"pushToken": self.push_token},
            headers=self._auth(card, token),
        )

    async def unregister(self, card: Pass) -> httpx.Response:
        return await self.client.delete(
            f"{self._base(card)}/devices/{self.device_id}/registrations/{card.pass_type}/{card.serial}",
            headers=self._auth(card),
        )

    async def changed(self, card: Pass, since: str | None = None) -> httpx.Response:
        params = {"passesUpdatedSince": since} if since is not None else {}
        return await self.client.get(
            f"{self._base(card)}/devices/{self.device_id}/registrations/{card.pass_type}",
            params=params,
        )

    async def fetch(
        self, card: Pass, if_modified_since: str | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = self._auth(card, token)
        if if_modified_since:
            headers["If-Modified-Since"] = if_modified_since
        return await self.client.get(
            f"{self._base(card)}/passes/{card.pass_type}/{card.serial}", headers=headers
        )

    async def log(self, card: Pass, lines: list[str]) -> httpx.Response:
        return await self.client.post(f"{self._base(card)}/log", json={"logs": lines})
