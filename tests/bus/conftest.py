"""The bus under test: every behaviour test runs on the memory bus and on a real Kafka."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from pwsk.bus import Bus
from pwsk.bus.kafka import KafkaBus
from pwsk.bus.memory import MemoryBus
from tests.bus import engines


def pytest_collection_finish(session: pytest.Session) -> None:
    engines.start_for(session.items, "kafka")


@pytest.fixture(scope="session")
def kafka_url() -> str:
    return engines.url("kafka")


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    """A started bus; on Kafka its topics and groups carry a prefix of their own."""
    if request.param == "memory":
        instance: Bus = MemoryBus()
    else:
        url = request.getfixturevalue("kafka_url")
        instance = KafkaBus(f"{url}?prefix=t{secrets.token_hex(4)}_")
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()
