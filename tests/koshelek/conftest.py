from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from tests.koshelek.standin import (
    LOGIN,
    PASSWORD,
    PUSH_LOGIN,
    PUSH_PASSWORD,
    PushApi,
    running_push_api,
)
from wallet import settings as settings_module


@pytest.fixture
async def koshelek_on(database: object) -> None:
    """Our service open to Кошелёк with the credentials the chain gave it."""
    settings_module.override(
        dataclasses.replace(settings_module.get(), koshelek_login=LOGIN, koshelek_password=PASSWORD)
    )


@pytest.fixture
async def push_api(koshelek_on: None) -> AsyncIterator[PushApi]:
    async with running_push_api() as standin:
        settings_module.override(
            dataclasses.replace(
                settings_module.get(),
                koshelek_push_url=standin.url,
                koshelek_push_login=PUSH_LOGIN,
                koshelek_push_password=PUSH_PASSWORD,
            )
        )
        yield standin
