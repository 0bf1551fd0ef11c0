from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from tests.support.smsc_standin import SmscStandin
from wallet import settings as settings_module
from wallet.sms import smpp


def use_smsc(smsc: SmscStandin, **extra: object) -> None:
    settings_module.override(
        dataclasses.replace(
            settings_module.get(),
            smpp_host=smsc.host,
            smpp_port=smsc.port,
            smpp_system_id=smsc.system_id,
            smpp_password=smsc.password,
            smpp_sender="Loyalty",
            **extra,  # type: ignore[arg-type]
        )
    )


@pytest.fixture
async def smsc(database: object, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SmscStandin]:
    """An SMSC stand-in on loopback, and the settings pointing at it."""
    monkeypatch.setattr(smpp, "BIND_WAIT", 1.0)
    monkeypatch.setattr(smpp, "RECONNECT_FIRST_MS", 50)
    monkeypatch.setattr(smpp, "RECONNECT_DOUBLINGS", 2)
    standin = await SmscStandin().start()
    use_smsc(standin)
    yield standin
    await smpp.close()
    await standin.stop()
