"""The SQLite store's batched activation records: each put still answers for its own record.

Puts of activation records made together share one transaction; a put returns only once
its record is committed, a read of activations sees every record put before it, a conflict
is that record's alone, a failed transaction fails
every put in it (their callers retry), a record the store refuses fails alone, and nothing
put before ``stop`` is lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pwsk.errors import Conflict
from pwsk.store import ACTIVATIONS, WHISKS, ActivationQuery
from pwsk.store.sqlite import BATCH_MAX, SqliteStore

pytestmark = pytest.mark.anyio


def record(n: int) -> dict[str, Any]:
    return {"_id": f"guest/{n:032x}", "namespace": "guest", "name": "noop",
            "activationId": f"{n:032x}", "start": 1_000 + n, "end": 1_001 + n,
            "response": {"status": "success", "statusCode": 0, "result": {"n": n}}}


def committed(path: Path) -> set[str]:
    """Ids of the records another connection sees (what a crash right now would keep)."""
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM docs WHERE db=?",
                                               (ACTIVATIONS,))}


async def test_each_put_returns_once_its_record_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "pwsk.db"
    store = SqliteStore(path)
    await store.start()
    try:
        count = BATCH_MAX + 50  # one full batch written at once, the rest after the window

        async def put(n: int) -> None:
            await store.put(ACTIVATIONS, record(n))
            assert record(n)["_id"] in committed(path)

        await asyncio.gather(*(put(n) for n in range(count)))
        assert len(committed(path)) == count
        listed = await store.list_activations(ActivationQuery("guest", limit=count))
        assert {d["activationId"] for d in listed} == {f"{n:032x}" for n in range(count)}
    finally:
        await store.stop()


async def test_a_read_of_activations_sees_every_record_put_before_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pwsk.db")
    await store.start()
    try:
        puts = [asyncio.create_task(store.put(ACTIVATIONS, record(n))) for n in range(3)]
        await asyncio.sleep(0)  # put, not yet written (the batch window is open)
        assert len(await store.list_activations(ActivationQuery("guest"))) == 3
        puts.append(asyncio.create_task(store.put(ACTIVATIONS, record(3))))
        await asyncio.sleep(0)
        assert await store.count_activations(ActivationQuery("guest")) == 4
        puts.append(asyncio.create_task(store.put(ACTIVATIONS, record(4))))
        await asyncio.sleep(0)
        assert await store.get(ACTIVATIONS, record(4)["_id"]) is not None
        puts.append(asyncio.create_task(store.put(ACTIVATIONS, record(5))))
        await asyncio.sleep(0)
        assert len(await store.all_docs(ACTIVATIONS)) == 6
        await asyncio.gather(*puts)
    finally:
        await store.stop()


async def test_a_conflict_is_its_own_record_s_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pwsk.db")
    await store.start()
    try:
        await store.put(ACTIVATIONS, record(1))
        results = await asyncio.gather(
            store.put(ACTIVATIONS, record(0)), store.put(ACTIVATIONS, record(1)),
            store.put(ACTIVATIONS, record(2)), store.put(ACTIVATIONS, record(2)),
            return_exceptions=True)
        assert isinstance(results[0], str)
        assert isinstance(results[1], Conflict)  # stored before
        assert isinstance(results[2], str)
        assert isinstance(results[3], Conflict)  # the same id twice in one batch
        assert (await store.get(ACTIVATIONS, record(2)["_id"]) or {})["response"]["result"] \
            == {"n": 2}
    finally:
        await store.stop()


async def test_a_record_the_store_refuses_fails_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pwsk.db")
    await store.start()
    try:
        bad = record(7)
        bad["start"] = "not a number"  # its sort column refuses it
        results = await asyncio.gather(
            store.put(ACTIVATIONS, record(6)), store.put(ACTIVATIONS, bad),
            store.put(ACTIVATIONS, record(8)), return_exceptions=True)
        assert isinstance(results[1], ValueError)
        assert isinstance(results[0], str) and isinstance(results[2], str)
        assert await store.get(ACTIVATIONS, record(8)["_id"]) is not None
        assert await store.get(ACTIVATIONS, bad["_id"]) is None
    finally:
        await store.stop()


class _FailingInsert:
    """A connection whose next INSERT fails as a full disk would."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.failures = conn, 1

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("INSERT") and self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)


async def test_a_database_error_fails_the_whole_batch_and_writes_none_of_it(
        tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pwsk.db")
    await store.start()
    real = store._conn
    assert real is not None
    try:
        store._conn = _FailingInsert(real)  # type: ignore[assignment]
        results = await asyncio.gather(*(store.put(ACTIVATIONS, record(n)) for n in range(3)),
                                       return_exceptions=True)
        assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
        store._conn = real
        assert await store.list_activations(ActivationQuery("guest")) == []  # rolled back
        for n in range(3):  # the callers retry, as the invoker does
            await store.put(ACTIVATIONS, record(n))
        assert len(await store.list_activations(ActivationQuery("guest"))) == 3
    finally:
        store._conn = real
        await store.stop()


async def test_stop_writes_the_records_still_waiting(tmp_path: Path) -> None:
    path = tmp_path / "pwsk.db"
    store = SqliteStore(path)
    await store.start()
    tasks = [asyncio.create_task(store.put(ACTIVATIONS, record(n))) for n in range(20)]
    await asyncio.sleep(0)  # queued, the batch window still open
    await store.stop()
    assert all(t.done() and t.exception() is None for t in tasks)
    assert len(committed(path)) == 20


async def test_entities_are_written_at_once_between_batches(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pwsk.db")
    await store.start()
    try:
        waiting = asyncio.create_task(store.put(ACTIVATIONS, record(1)))
        await asyncio.sleep(0)
        rev = await store.put(WHISKS, {"_id": "guest/a", "entityType": "action",
                                       "namespace": "guest", "name": "a", "updated": 1})
        assert rev and (await store.get(WHISKS, "guest/a") or {})["_rev"] == rev
        await waiting
    finally:
        await store.stop()
