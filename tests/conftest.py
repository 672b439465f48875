"""Shared fixtures: one real ``pwsk standalone`` per session, clients, unique names."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import Server, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("standalone"))
    yield srv
    srv.stop()


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    """A guest client rooted at the server (paths start with ``/api/v1``)."""
    with server.client() as client:
        yield client


@pytest.fixture
def name() -> str:
    """A fresh entity name, so tests sharing one server never collide."""
    return f"t{secrets.token_hex(4)}"
