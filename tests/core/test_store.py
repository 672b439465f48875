"""The document-store contract, written once and run against every implementation.

SQLite runs everywhere; CouchDB runs against an in-memory pouchdb-server (marker
``couchdb``), which ``scripts/test`` provisions. Each test gets an empty store: a fresh file,
or a fresh set of databases (a new prefix) on the session's server.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pwsk.errors import Conflict, Messages, NotFound
from pwsk.store import (
    ACTIVATIONS,
    SUBJECTS,
    WHISKS,
    ActivationQuery,
    EntityQuery,
    Json,
    Store,
    open_store,
)

pytestmark = pytest.mark.anyio

Opener = Callable[[], Store]


@pytest.fixture(params=["sqlite", pytest.param("couchdb", marks=pytest.mark.couchdb)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens (unstarted) stores on one fresh backing: call it again to reopen the same data."""
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path / 'pwsk.db'}"
    else:
        url = request.getfixturevalue("pouchdb").store_url()
    return lambda: open_store(url)


@pytest.fixture
async def store(opener: Opener) -> AsyncIterator[Store]:
    s = opener()
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def action(path: str, name: str, updated: int, entity_type: str = "action", **extra: Any) -> Json:
    return {"_id": f"{path}/{name}", "entityType": entity_type, "namespace": path,
            "name": name, "updated": updated, **extra}


def activation(ns: str, n: int, path: str, start: int) -> Json:
    return {"_id": f"{ns}/{n:032x}", "namespace": ns, "name": path.rsplit("/", 1)[1],
            "activationId": f"{n:032x}", "start": start, "end": start + 1,
            "annotations": [{"key": "path", "value": path}]}


def names(docs: list[Json]) -> list[str]:
    return [d["name"] for d in docs]


# --- documents -------------------------------------------------------------------------


async def test_get_returns_exactly_what_was_stored(store: Store) -> None:
    doc = action("ns", "a", 1, exec={"kind": "python:3.11", "code": "x"},
                 annotations=[{"key": "web-export", "value": True}], unicode="üñ ✓", empty={})
    kept = copy.deepcopy(doc)
    rev = await store.put(WHISKS, doc)
    assert rev.startswith("1-")
    assert doc == kept, "put must not change the caller's document"
    assert await store.get(WHISKS, "ns/a") == {**doc, "_rev": rev}
    assert await store.get(WHISKS, "ns/missing") is None
    assert await store.get(ACTIVATIONS, "ns/a") is None, "databases are separate"


async def test_unusual_ids_round_trip(store: Store) -> None:
    for doc_id in ["ns/pkg/with space", "ns/ünï/ćødé", "_design/x", "_all_docs", "~tilde",
                   "ns/a?b#c%2F"]:
        rev = await store.put(SUBJECTS, {"_id": doc_id, "v": doc_id})
        assert await store.get(SUBJECTS, doc_id) == {"_id": doc_id, "_rev": rev, "v": doc_id}
    assert await store.get(SUBJECTS, "_changes") is None
    await store.put(WHISKS, action("_odd", "x", 1))
    listed = await store.list_entities(EntityQuery("action", "_odd"))
    assert [d["_id"] for d in listed] == ["_odd/x"]


async def test_revisions_and_conflicts(store: Store) -> None:
    rev1 = await store.put(WHISKS, action("ns", "a", 1))
    with pytest.raises(Conflict) as exists:
        await store.put(WHISKS, action("ns", "a", 2))
    assert exists.value.message == Messages.EXISTS
    rev2 = await store.put(WHISKS, {**action("ns", "a", 2), "_rev": rev1})
    assert rev2.startswith("2-") and rev2 != rev1
    for stale in [rev1, "1-" + "0" * 32, "bogus"]:
        with pytest.raises(Conflict) as clash:
            await store.put(WHISKS, {**action("ns", "a", 3), "_rev": stale})
        assert clash.value.message == Messages.CONCURRENT_MODIFICATION
    with pytest.raises(Conflict) as never:
        await store.put(WHISKS, {**action("ns", "new", 3), "_rev": rev1})
    assert never.value.message == Messages.CONCURRENT_MODIFICATION
    doc = await store.get(WHISKS, "ns/a")
    assert doc is not None and doc["_rev"] == rev2 and doc["updated"] == 2


async def test_racing_writers_one_wins(store: Store) -> None:
    rev = await store.put(SUBJECTS, {"_id": "k", "n": 0})
    outcomes = await asyncio.gather(
        *(store.put(SUBJECTS, {"_id": "k", "_rev": rev, "n": i}) for i in range(1, 6)),
        return_exceptions=True)
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, str))
    doc = await store.get(SUBJECTS, "k")
    assert doc is not None and doc["_rev"] == winners[0]


async def test_deletes(store: Store) -> None:
    rev1 = await store.put(WHISKS, action("ns", "a", 1))
    rev2 = await store.put(WHISKS, {**action("ns", "a", 2), "_rev": rev1})
    for stale in [rev1, "9-" + "f" * 32, "bogus"]:
        with pytest.raises(Conflict) as clash:
            await store.delete(WHISKS, "ns/a", stale)
        assert clash.value.message == Messages.CONCURRENT_MODIFICATION
    assert await store.get(WHISKS, "ns/a") is not None
    await store.delete(WHISKS, "ns/a", rev2)
    assert await store.get(WHISKS, "ns/a") is None
    assert await store.list_entities(EntityQuery("action", "ns")) == []
    assert await store.count_entities(EntityQuery("action", "ns")) == 0
    with pytest.raises(NotFound):
        await store.delete(WHISKS, "ns/a", rev2)
    with pytest.raises(NotFound):
        await store.delete(WHISKS, "ns/never", "1-" + "0" * 32)
    # A deleted name is free again: creating it needs no revision.
    rev3 = await store.put(WHISKS, action("ns", "a", 3))
    doc = await store.get(WHISKS, "ns/a")
    assert doc is not None and doc["_rev"] == rev3 and doc["updated"] == 3
    with pytest.raises(Conflict):
        await store.put(WHISKS, action("ns", "a", 4))


async def test_data_survives_reopen(opener: Opener) -> None:
    first = opener()
    await first.start()
    rev = await first.put(WHISKS, action("ns", "k", 1))
    await first.stop()
    await first.stop()  # stop is idempotent
    second = opener()
    await second.start()
    try:
        assert await second.get(WHISKS, "ns/k") == {**action("ns", "k", 1), "_rev": rev}
        assert names(await second.list_entities(EntityQuery("action", "ns"))) == ["k"]
    finally:
        await second.stop()


# --- entity lists ----------------------------------------------------------------------


async def test_entity_lists_newest_first_by_namespace_and_package(store: Store) -> None:
    for i, path in enumerate(["ns", "ns/pkg", "ns", "other", "ns/pkg2", "nsx"]):
        await store.put(WHISKS, action(path, f"a{i}", i))
    await store.put(WHISKS, action("ns", "t", 9, entity_type="trigger"))
    await store.put(WHISKS, action("ns/pkg", "r", 9, entity_type="rule"))
    await store.put(SUBJECTS, {"_id": "ns/limits", "namespace": "ns", "entityType": "action"})

    assert names(await store.list_entities(EntityQuery("action", "ns"))) == [
        "a4", "a2", "a1", "a0"]
    assert await store.count_entities(EntityQuery("action", "ns")) == 4
    in_pkg = EntityQuery("action", "ns/pkg", exact_path=True)
    assert names(await store.list_entities(in_pkg)) == ["a1"]
    assert await store.count_entities(in_pkg) == 1
    top = EntityQuery("action", "ns", exact_path=True)
    assert names(await store.list_entities(top)) == ["a2", "a0"]
    assert await store.count_entities(top) == 2
    assert names(await store.list_entities(EntityQuery("trigger", "ns"))) == ["t"]
    assert names(await store.list_entities(EntityQuery("rule", "ns/pkg", True))) == ["r"]
    assert await store.list_entities(EntityQuery("action", "ns/pkg")) == []
    assert await store.count_entities(EntityQuery("package", "ns")) == 0


async def test_entity_ordering_updates_and_ties(store: Store) -> None:
    # Equal timestamps come in id order; a missing timestamp sorts as 0 (oldest).
    for name, updated in [("c", 5), ("a", 5), ("b", 5), ("old", 1)]:
        await store.put(WHISKS, action("ns", name, updated))
    await store.put(WHISKS, {"_id": "ns/none", "entityType": "action", "namespace": "ns",
                             "name": "none"})
    assert names(await store.list_entities(EntityQuery("action", "ns"))) == [
        "a", "b", "c", "old", "none"]
    # Replacing a document moves it by its new timestamp.
    doc = await store.get(WHISKS, "ns/old")
    assert doc is not None
    await store.put(WHISKS, {**doc, "updated": 7})
    assert names(await store.list_entities(EntityQuery("action", "ns"))) == [
        "old", "a", "b", "c", "none"]
    assert await store.count_entities(EntityQuery("action", "ns")) == 5


async def test_entity_pagination(store: Store) -> None:
    for i in range(7):
        await store.put(WHISKS, action("ns", f"a{i}", i))
    everything = names(await store.list_entities(EntityQuery("action", "ns", limit=200)))
    assert everything == [f"a{i}" for i in reversed(range(7))]
    pages = [names(await store.list_entities(EntityQuery("action", "ns", skip=s, limit=3)))
             for s in (0, 3, 6, 9)]
    assert pages == [everything[:3], everything[3:6], everything[6:], []]
    assert names(await store.list_entities(EntityQuery("action", "ns", limit=1))) == ["a6"]
    assert await store.count_entities(EntityQuery("action", "ns", skip=5, limit=1)) == 7


# --- activation lists ------------------------------------------------------------------


async def test_activation_filters(store: Store) -> None:
    paths = ["ns/y", "ns/pkg/x", "ns/y", "ns/pkg/x", "ns/pkg/y", "ns/y"]
    for i, path in enumerate(paths):
        await store.put(ACTIVATIONS, activation("ns", i, path, 100 + i))
    await store.put(ACTIVATIONS, activation("other", 99, "other/y", 150))

    async def starts(**kw: Any) -> list[int]:
        docs = await store.list_activations(ActivationQuery("ns", **kw))
        assert await store.count_activations(ActivationQuery("ns", **kw)) == len(docs)
        return [d["start"] for d in docs]

    assert await starts() == [105, 104, 103, 102, 101, 100]
    assert await starts(name="y") == [105, 102, 100]
    assert await starts(name="pkg/x") == [103, 101]
    assert await starts(name="pkg/y") == [104]
    assert await starts(name="x") == []
    assert await starts(since=102) == [105, 104, 103, 102]
    assert await starts(upto=102) == [102, 101, 100]
    assert await starts(since=101, upto=103) == [103, 102, 101]
    assert await starts(name="y", since=101, upto=104) == [102]
    assert await starts(since=103, upto=103) == [103]
    assert await starts(since=104, upto=103) == []
    assert await starts(since=200) == []
    assert await store.count_activations(ActivationQuery("other")) == 1
    assert await store.count_activations(ActivationQuery("nobody")) == 0


async def test_activation_name_from_path_annotation(store: Store) -> None:
    # The name key is the path annotation minus the namespace; without one, the name.
    await store.put(ACTIVATIONS, {"_id": "ns/1", "namespace": "ns", "name": "plain",
                                  "start": 1})
    await store.put(ACTIVATIONS, {**activation("ns", 2, "ns/pkg/inner", 2), "name": "inner"})
    assert [d["_id"] for d in await store.list_activations(
        ActivationQuery("ns", name="plain"))] == ["ns/1"]
    assert await store.list_activations(ActivationQuery("ns", name="inner")) == []
    assert await store.count_activations(ActivationQuery("ns", name="pkg/inner")) == 1


async def test_activation_pagination_and_ties(store: Store) -> None:
    for i in range(5):
        await store.put(ACTIVATIONS, activation("ns", 4 - i, "ns/a", 100 if i < 3 else 50))
    ids = [d["activationId"][-1] for d in await store.list_activations(
        ActivationQuery("ns", limit=200))]
    assert ids == ["2", "3", "4", "0", "1"]
    pages = [[d["activationId"][-1] for d in await store.list_activations(
        ActivationQuery("ns", name="a", skip=s, limit=2))] for s in (0, 2, 4)]
    assert pages == [ids[:2], ids[2:4], ids[4:]]


async def test_documents_come_back_unchanged_from_lists(store: Store) -> None:
    stored = action("ns/pkg", "a", 3, parameters=[{"key": "k", "value": [1, None]}])
    rev = await store.put(WHISKS, stored)
    for query in (EntityQuery("action", "ns"), EntityQuery("action", "ns/pkg", True)):
        assert await store.list_entities(query) == [{**stored, "_rev": rev}]
    act = activation("ns", 1, "ns/pkg/a", 5)
    rev = await store.put(ACTIVATIONS, act)
    assert await store.get(ACTIVATIONS, act["_id"]) == {**act, "_rev": rev}
    for aq in (ActivationQuery("ns"), ActivationQuery("ns", name="pkg/a", since=5)):
        assert await store.list_activations(aq) == [{**act, "_rev": rev}]
