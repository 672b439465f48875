"""Fixtures for the realtime tests: the bus under the relay, in-process or a real Kafka."""

from __future__ import annotations

import pytest

from tests.bus import engines


def pytest_collection_finish(session: pytest.Session) -> None:
    engines.start_for(session.items, "kafka")
