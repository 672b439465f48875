"""Fixtures for the CouchDB store tests: the session's pouchdb-server (see ``couch.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.couch import PouchServer, shared_pouchdb


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pouchdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PouchServer]:
    with shared_pouchdb(tmp_path_factory) as server:
        yield server
