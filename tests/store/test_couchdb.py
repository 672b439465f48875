"""What is particular to the CouchDB store: urls, credentials, start-up, engine failures.

The contract it shares with SQLite is tested in ``tests/core/test_store.py``.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from pwsk.errors import InternalError, PayloadTooLarge, ServiceUnavailable
from pwsk.store import ACTIVATIONS, SUBJECTS, WHISKS, ActivationQuery, EntityQuery, open_store
from pwsk.store.couchdb import HELPERS, CouchStore
from tests.servers import free_port
from tests.store.couch import PouchServer, start_pouchdb

pytestmark = [pytest.mark.anyio, pytest.mark.couchdb]


@pytest.fixture
async def store(pouchdb: PouchServer) -> AsyncIterator[CouchStore]:
    s = CouchStore.from_url(pouchdb.store_url())
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def test_urls() -> None:
    s = CouchStore.from_url("couchdb://db.example:5985?prefix=ow_")
    assert (s.base_url, s.prefix) == ("http://db.example:5985", "ow_")
    s = CouchStore.from_url("couchdb://admin:p%40ss:w@couch")
    assert (s.base_url, s.prefix) == ("http://couch:5984", "pwsk_")
    assert "p@ss" not in repr(s) and "admin" not in repr(s)
    assert CouchStore.from_url("couchdbs://[::1]").base_url == "https://[::1]:6984"
    assert isinstance(open_store("couchdb://127.0.0.1:5984"), CouchStore)
    for bad in ["couchdb://", "http://127.0.0.1:5984", "couchdb:///x",
                "couchdb://h?prefix=Upper_", "couchdb://h?prefix=1_"]:
        with pytest.raises(ValueError):
            CouchStore.from_url(bad)


Handler = Callable[[httpx.Request], httpx.Response | None]


def fake_engine(answer: Handler | None = None) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport that records requests and answers them with ``answer``, or else like an
    empty CouchDB would answer start-up."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if answer is not None and (response := answer(request)) is not None:
            return response
        if request.method == "GET" and "/_design/" in request.url.path:
            return httpx.Response(404, json={"error": "not_found"})
        if request.url.path.endswith("/_index"):
            return httpx.Response(200, json={"result": "created"})
        return httpx.Response(201, json={"ok": True, "rev": "1-a"})

    return httpx.MockTransport(handle), seen


async def test_credentials_from_the_url_go_in_every_request() -> None:
    transport, seen = fake_engine()
    url = CouchStore.from_url("couchdb://admin:p%40ss@couch:5984")
    store = CouchStore(url.base_url, auth=url._auth, transport=transport)
    await store.start()
    await store.put(SUBJECTS, {"_id": "x"})
    await store.stop()
    expected = "Basic " + base64.b64encode(b"admin:p@ss").decode()
    assert seen and all(r.headers["authorization"] == expected for r in seen)
    assert {r.url.path for r in seen if r.method == "PUT" and r.url.path.count("/") == 1} == {
        "/pwsk_subjects", "/pwsk_whisks", "/pwsk_activations"}


@pytest.mark.parametrize("status", [500, 503, 401, 403])
async def test_engine_errors_are_service_unavailable(status: int) -> None:
    transport, _ = fake_engine(lambda _: httpx.Response(status, text="no"))
    store = CouchStore("http://couch:5984", transport=transport)
    with pytest.raises(ServiceUnavailable) as err:
        await store.start()
    assert err.value.context["status"] == status


async def test_a_non_couchdb_answer_is_service_unavailable() -> None:
    def html(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and "/_design/" not in request.url.path:
            return httpx.Response(200, text="<html>hello</html>")
        return None

    transport, _ = fake_engine(html)
    store = CouchStore("http://couch:5984", transport=transport)
    await store.start()
    with pytest.raises(ServiceUnavailable):
        await store.get(WHISKS, "ns/a")
    await store.stop()


async def test_refused_connection_is_service_unavailable() -> None:
    store = CouchStore.from_url(f"couchdb://127.0.0.1:{free_port()}")
    with pytest.raises(ServiceUnavailable) as err:
        await store.start()
    assert not isinstance(err.value, httpx.HTTPError)
    await store.stop()  # start cleaned up after itself; stop stays harmless


async def test_engine_going_down_is_service_unavailable(tmp_path: Path) -> None:
    server = start_pouchdb(tmp_path)
    store = CouchStore.from_url(server.store_url())
    try:
        await store.start()
        rev = await store.put(WHISKS, {"_id": "ns/a", "entityType": "action",
                                       "namespace": "ns", "name": "a", "updated": 1})
        server.stop()
        calls: list[Callable[[], Coroutine[Any, Any, Any]]] = [
            lambda: store.get(WHISKS, "ns/a"),
            lambda: store.put(WHISKS, {"_id": "ns/b", "namespace": "ns"}),
            lambda: store.delete(WHISKS, "ns/a", rev),
            lambda: store.list_entities(EntityQuery("action", "ns")),
            lambda: store.count_entities(EntityQuery("action", "ns")),
            lambda: store.list_activations(ActivationQuery("ns")),
            lambda: store.count_activations(ActivationQuery("ns", name="a")),
        ]
        for call in calls:
            with pytest.raises(ServiceUnavailable):
                await call()
    finally:
        await store.stop()
        server.stop()


async def test_health_probes_the_server(tmp_path: Path) -> None:
    server = start_pouchdb(tmp_path)
    store = CouchStore.from_url(server.store_url())
    try:
        assert (await store.health())["status"] == "down"  # not started
        await store.start()
        assert await store.health() == {"status": "up"}
        server.stop()
        health = await store.health()
        assert health["status"] == "down" and "unreachable" in health["reason"], health
    finally:
        await store.stop()
        server.stop()


async def test_helper_fields_live_in_the_engine_only(store: CouchStore,
                                                     pouchdb: PouchServer) -> None:
    await store.put(WHISKS, {"_id": "ns/p/a", "entityType": "action", "namespace": "ns/p",
                             "name": "a", "updated": 3})
    await store.put(ACTIVATIONS, {"_id": "ns/1", "namespace": "ns", "name": "a", "start": 4,
                                  "annotations": [{"key": "path", "value": "ns/p/a"}]})
    async with httpx.AsyncClient(base_url=pouchdb.http_url) as raw:
        entity = (await raw.get(f"/{store.prefix}whisks/ns%2Fp%2Fa")).json()
        act = (await raw.get(f"/{store.prefix}activations/ns%2F1")).json()
    assert {k: entity[k] for k in HELPERS if k in entity} == {
        "pwsk_type": "action", "pwsk_root": "ns", "pwsk_path": "ns/p", "pwsk_sort": -3}
    assert {k: act[k] for k in HELPERS if k in act} == {
        "pwsk_root": "ns", "pwsk_name": "p/a", "pwsk_sort": -4}
    seen = [await store.get(WHISKS, "ns/p/a"), await store.get(ACTIVATIONS, "ns/1"),
            *await store.list_entities(EntityQuery("action", "ns")),
            *await store.list_activations(ActivationQuery("ns", name="p/a"))]
    assert len(seen) == 4
    assert all(not k.startswith("pwsk_") for doc in seen if doc for k in doc)


async def test_start_is_idempotent_and_repairs_the_count_view(store: CouchStore,
                                                              pouchdb: PouchServer) -> None:
    await store.start()  # a second start on a started store does nothing
    ddoc_path = f"/{store.prefix}whisks/_design/pwsk_count"
    async with httpx.AsyncClient(base_url=pouchdb.http_url) as raw:
        ddoc = (await raw.get(ddoc_path)).json()
        ddoc["views"]["count"]["map"] = "function (doc) {}"
        put = await raw.put(ddoc_path, content=orjson.dumps(ddoc),
                            headers={"Content-Type": "application/json"})
        assert put.status_code == 201
        # Another instance on the same databases: they exist, indexes exist, view is fixed.
        other = CouchStore.from_url(pouchdb.store_url(store.prefix))
        await other.start()
        await other.put(WHISKS, {"_id": "ns/a", "entityType": "action", "namespace": "ns"})
        assert await store.count_entities(EntityQuery("action", "ns")) == 1
        await other.stop()
        dbs = (await raw.get("/_all_dbs")).json()
    assert {f"{store.prefix}{db}" for db in (SUBJECTS, WHISKS, ACTIVATIONS)} <= set(dbs)


async def test_reserved_fields_are_refused_before_reaching_the_engine(
        store: CouchStore) -> None:
    for field in ["_deleted", "_attachments", "_secret", "pwsk_root"]:
        with pytest.raises(ValueError, match="reserved"):
            await store.put(SUBJECTS, {"_id": "x", field: True})
    assert await store.get(SUBJECTS, "x") is None


async def test_a_refused_request_is_an_internal_error() -> None:
    transport, _ = fake_engine(
        lambda r: httpx.Response(400, json={"error": "bad_request"})
        if r.url.path.endswith("/_find") else None)
    store = CouchStore("http://couch:5984", transport=transport)
    await store.start()
    with pytest.raises(InternalError):
        await store.list_entities(EntityQuery("action", "ns"))
    await store.stop()


async def test_a_document_over_the_engine_size_limit_is_payload_too_large() -> None:
    # CouchDB 3 refuses documents over max_document_size (8 MB unless configured).
    transport, _ = fake_engine(
        lambda r: httpx.Response(413, json={"error": "document_too_large"})
        if r.method == "PUT" and r.url.path.endswith("/big") else None)
    store = CouchStore("http://couch:5984", transport=transport)
    await store.start()
    with pytest.raises(PayloadTooLarge):
        await store.put(WHISKS, {"_id": "big", "exec": {"code": "x"}})
    await store.stop()
