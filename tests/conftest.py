"""Shared fixtures: one real ``pwsk standalone`` per session, clients, unique names."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import Server, start_server

DEPLOYMENT = os.environ.get("PWSK_TEST_DEPLOYMENT", "standalone")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The pwsk every behaviour test talks to: ``pwsk standalone``, or with
    ``PWSK_TEST_DEPLOYMENT=distributed`` the distributed stack on real engines (gateway,
    2 controllers, 2 invokers, Kafka, Consul, CouchDB-compatible store, Docker)."""
    if DEPLOYMENT == "distributed":
        from tests.distributed import start_stack

        stack = start_stack(tmp_path_factory.mktemp("distributed"))
        yield stack  # type: ignore[misc]
        stack.stop()
        return
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
