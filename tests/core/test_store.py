"""The SQLite store's CouchDB-like contract: revisions, conflicts, ordered queries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from pwsk.errors import Conflict, NotFound
from pwsk.store import ACTIVATIONS, WHISKS, ActivationQuery, EntityQuery
from pwsk.store.sqlite import SqliteStore


def run(test: Callable[[SqliteStore], Awaitable[None]], path: Path | None = None) -> None:
    async def main() -> None:
        store = SqliteStore(path)
        await store.start()
        try:
            await test(store)
        finally:
            await store.stop()

    asyncio.run(main())


def test_revisions_and_conflicts() -> None:
    async def check(store: SqliteStore) -> None:
        rev1 = await store.put(WHISKS, {"_id": "ns/a", "entityType": "action",
                                        "namespace": "ns", "name": "a", "updated": 1})
        assert rev1.startswith("1-")
        with pytest.raises(Conflict):
            await store.put(WHISKS, {"_id": "ns/a", "namespace": "ns"})
        rev2 = await store.put(WHISKS, {"_id": "ns/a", "_rev": rev1, "namespace": "ns"})
        assert rev2.startswith("2-")
        with pytest.raises(Conflict):
            await store.put(WHISKS, {"_id": "ns/a", "_rev": rev1, "namespace": "ns"})
        with pytest.raises(Conflict):
            await store.delete(WHISKS, "ns/a", rev1)
        doc = await store.get(WHISKS, "ns/a")
        assert doc is not None and doc["_rev"] == rev2
        await store.delete(WHISKS, "ns/a", rev2)
        assert await store.get(WHISKS, "ns/a") is None
        with pytest.raises(NotFound):
            await store.delete(WHISKS, "ns/a", rev2)

    run(check)


def test_entity_queries_by_namespace_and_package() -> None:
    async def check(store: SqliteStore) -> None:
        for i, path in enumerate(["ns", "ns/pkg", "ns", "other"]):
            await store.put(WHISKS, {"_id": f"{path}/a{i}", "entityType": "action",
                                     "namespace": path, "name": f"a{i}", "updated": i})
        all_ns = await store.list_entities(EntityQuery("action", "ns"))
        assert [d["name"] for d in all_ns] == ["a2", "a1", "a0"]
        in_pkg = await store.list_entities(EntityQuery("action", "ns/pkg", exact_path=True))
        assert [d["name"] for d in in_pkg] == ["a1"]
        assert await store.count_entities(EntityQuery("action", "ns")) == 3
        page = await store.list_entities(EntityQuery("action", "ns", skip=1, limit=1))
        assert [d["name"] for d in page] == ["a1"]

    run(check)


def test_activation_queries() -> None:
    async def check(store: SqliteStore) -> None:
        for i in range(4):
            path = "ns/pkg/x" if i % 2 else "ns/y"
            await store.put(ACTIVATIONS, {
                "_id": f"ns/{i:032x}", "namespace": "ns", "name": path.rsplit("/", 1)[1],
                "activationId": f"{i:032x}", "start": 100 + i,
                "annotations": [{"key": "path", "value": path}]})
        named = await store.list_activations(ActivationQuery("ns", name="pkg/x"))
        assert [d["start"] for d in named] == [103, 101]
        window = await store.list_activations(ActivationQuery("ns", since=101, upto=102))
        assert [d["start"] for d in window] == [102, 101]
        assert await store.count_activations(ActivationQuery("ns", name="y")) == 2
        assert await store.count_activations(ActivationQuery("other")) == 0

    run(check)


def test_data_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "pwsk.db"

    async def write(store: SqliteStore) -> None:
        await store.put(WHISKS, {"_id": "ns/k", "namespace": "ns", "name": "k"})

    async def read(store: SqliteStore) -> None:
        assert (await store.get(WHISKS, "ns/k")) is not None

    run(write, db)
    run(read, db)
