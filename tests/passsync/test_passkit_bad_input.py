"""What strangers and broken devices send to the PassKit web service: tags the service never
gave and log floods. Apple's protocol leaves these routes unauthenticated."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.passsync.conftest import Phone, download_pass
from tests.support.shop import Shop
from wallet.passsync import device_log


@pytest.mark.parametrize("since", ["²", "9" * 20, "99999999999999999999999999", "-1", "abc", ""])
async def test_a_tag_the_service_never_gave_lists_every_pass_of_the_device(client, wallets, since):
    shop = await Shop.open(client)
    shopper = await shop.enrol()
    card = await download_pass(shop, shopper)
    phone = Phone(client, device_id="c" * 32, push_token="cd" * 32)
    assert (await phone.register(card)).status_code == 201

    listed = await phone.changed(card, since=since)

    assert listed.status_code == 200, listed.text
    assert listed.json()["serialNumbers"] == [card.serial]
    # The tag it gets back is one of ours, so its next question is a normal one.
    assert (await phone.changed(card, since=listed.json()["lastUpdated"])).status_code == 204


def _device_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "wallet.passkit" and "reports:" in r.getMessage()
    ]


@pytest.fixture
async def stranger(database: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app seen from another address (made before the test runs: making an app
    configures logging, which would drop pytest's capture handler mid-test)."""
    from wallet.app import create_app

    transport = httpx.ASGITransport(app=create_app(manage_db=False), client=("203.0.113.9", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        yield http


async def test_a_device_log_cannot_forge_lines_in_our_log(client, wallets, caplog):
    device_log.forget()
    forged = [
        "Could not fetch pass\n2026-11-30 10:00:00 ERROR wallet.auth admin key created",
        "carriage\rreturn",
        "\x1b[2Jescape\x1b[0m",
        "line\u2028separator\u202eoverride",
    ]
    with caplog.at_level(logging.WARNING, logger="wallet.passkit"):
        reply = await client.post("/passkit/v1/log", json={"logs": forged})
    assert reply.status_code == 200
    lines = _device_lines(caplog)
    assert len(lines) == 4
    for line in lines:
        assert line.isprintable(), line
    assert "\\n2026-11-30 10:00:00 ERROR" in lines[0]


async def test_device_logs_are_capped_per_request_and_rate_limited_per_address(
    client, stranger, wallets, caplog
):
    device_log.forget()
    flood = {"logs": ["x" * 1000] * 50}
    with caplog.at_level(logging.WARNING, logger="wallet.passkit"):
        replies = [await client.post("/passkit/v1/log", json=flood) for _ in range(20)]
        # Apple only needs the 200: what is over the limits is dropped without telling.
        assert [r.status_code for r in replies] == [200] * 20
        flooded = _device_lines(caplog)
        # Another address still gets its lines through.
        got = await stranger.post("/passkit/v1/log", json={"logs": ["real"]})
        assert got.status_code == 200, got.text
    assert len(flooded) == device_log.LINES_PER_ADDRESS  # not 20 × 50 = 1,000
    assert all(len(line) < 700 for line in flooded)
    assert _device_lines(caplog)[-1].endswith("'real'")
    notices = [r for r in caplog.records if "dropped until the minute ends" in r.getMessage()]
    assert len(notices) == 1
    too_big = await client.post("/passkit/v1/log", json={"logs": ["y" * 100_000]})
    assert too_big.status_code == 413
