"""The loopback webhook receiver every webhooks test sends to."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.webhook_receiver import Receiver, make_cert
from wallet import settings as settings_module


@pytest.fixture
def receiver(tmp_path: Path, database: Any) -> Iterator[Receiver]:
    cert, key = make_cert(tmp_path)
    settings_module.override(
        dataclasses.replace(
            settings_module.get(), webhooks_allow_private=True, webhooks_ca=str(cert)
        )
    )
    found = Receiver(cert, key)
    found.start()
    try:
        yield found
    finally:
        found.stop()
