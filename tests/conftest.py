"""Shared fixtures: one real ``pwsk standalone`` per session, clients, unique names."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import Server, start_server
from tests.store.couch import PouchServer, shared_pouchdb

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
    # The brewery's brew (tests/e2e, tests/dashboard) starts ~800 activations in 18 s, more
    # than a loaded 2-core machine runs as they come: at standalone's 100 concurrent, rule
    # activations are refused (each logged in its trigger activation, as in OpenWhisk) and
    # readings go unstored. Allow what the distributed test stack allows.
    srv = start_server(tmp_path_factory.mktemp("standalone"),
                       env={"PWSK_CONCURRENT_INVOCATIONS": "1000"})
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


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, as pwsk does."""
    return "asyncio"


@pytest.fixture(scope="session")
def pouchdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PouchServer]:
    """The CouchDB-compatible server the store tests share (pouchdb-server, in memory)."""
    with shared_pouchdb(tmp_path_factory) as server:
        yield server
