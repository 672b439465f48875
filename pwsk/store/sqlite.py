"""The embedded store: one SQLite file in WAL mode, driven from one worker thread.

SQLite allows one writer at a time; instead of fighting over its lock, every call runs on a
single dedicated thread, so the event loop never blocks and writes never interleave. A
document is one row: the JSON body plus the columns the list queries filter and sort on.

Activation records, one per activation, are written in batches (group commit): the records
put in the same turn of the event loop, or while the previous batch is being written, share
one transaction and one trip to the thread; an idle store writes a record at once (a fixed
wait for company cost a sequence, which answers after its record, ~6 ms). Each ``put`` still
returns only once its own record is committed (or raises, for it alone, ``Conflict`` or what
its record's own data caused), so a caller that acknowledges work after its record is stored
loses nothing; a database error fails every put of the batch, and each caller retries as
before. Eight records in one batch cost a quarter of the CPU of eight single puts (the thread
hop and the commit are shared).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ..errors import Conflict, Messages, NotFound
from .base import ACTIVATIONS, ActivationQuery, EntityQuery, Json, activation_name_key, next_rev

T = TypeVar("T")

BATCH_MAX = 256  # a batch this large is written at once

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    db TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    etype TEXT NOT NULL DEFAULT '',
    root TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    ts INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL,
    PRIMARY KEY (db, id)
);
CREATE INDEX IF NOT EXISTS docs_by_type ON docs (db, etype, root, ts DESC);
CREATE INDEX IF NOT EXISTS docs_by_path ON docs (db, etype, path, ts DESC);
CREATE INDEX IF NOT EXISTS docs_by_name ON docs (db, root, name, ts DESC);
"""


class SqliteStore:
    """``Store`` on SQLite; ``path=None`` keeps everything in memory (tests)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pwsk-sqlite")
        self._batch: list[tuple[Json, asyncio.Future[str]]] = []  # records not yet sent
        self._batch_timer: asyncio.Handle | None = None
        self._batch_flight: asyncio.Future[list[str | Exception]] | None = None

    async def _call(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(fn, *args))

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._conn is None:
            await self._call(self._open)

    def _open(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path) if self.path else ":memory:",
                               check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives process crashes; only an OS crash can lose the last
        # transactions, which is the trade CouchDB's delayed commits make too.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        self._conn = conn

    async def stop(self) -> None:
        while self._batch or self._batch_flight is not None:  # the records put so far
            if self._batch_flight is None:
                self._send_batch()
            if self._batch_flight is not None:
                await asyncio.wait([self._batch_flight])
            await asyncio.sleep(0)  # its callback has run: the next batch can go
        if self._conn is not None:
            await self._call(self._close)
        self._pool.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("store not started")
        return self._conn

    # --- documents ---------------------------------------------------------------------

    async def get(self, db: str, doc_id: str) -> Json | None:
        if db == ACTIVATIONS:
            await self._written()
        result: Json | None = await self._call(self._get, db, doc_id)
        return result

    def _get(self, db: str, doc_id: str) -> Json | None:
        row = self.conn.execute(
            "SELECT rev, body FROM docs WHERE db=? AND id=?", (db, doc_id)
        ).fetchone()
        if row is None:
            return None
        doc: Json = orjson.loads(row[1])
        doc["_id"] = doc_id
        doc["_rev"] = row[0]
        return doc

    async def put(self, db: str, doc: Json) -> str:
        if db != ACTIVATIONS:
            rev: str = await self._call(self._put, db, doc)
            return rev
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._batch.append((doc, future))
        if len(self._batch) >= BATCH_MAX:
            self._send_batch()
        elif self._batch_timer is None and self._batch_flight is None:
            self._batch_timer = asyncio.get_running_loop().call_soon(self._send_batch)
        return await future

    async def _written(self) -> None:
        """Wait until the activation records put so far are written: a read of activations
        sees every record put before it, as it did when each put was its own write."""
        waiting: list[asyncio.Future[Any]] = [future for _, future in self._batch]
        if self._batch_flight is not None:
            waiting.append(self._batch_flight)
        if waiting:
            self._send_batch()  # at once (or right after the batch being written)
            await asyncio.wait(waiting)

    def _send_batch(self) -> None:
        """Hand the waiting records to the thread as one transaction (one batch at a time:
        records put meanwhile go in the next, as soon as this one is done)."""
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
        if self._batch_flight is not None or not self._batch:
            return
        batch, self._batch = self._batch, []
        loop = asyncio.get_running_loop()
        flight = loop.run_in_executor(self._pool, self._put_many, [doc for doc, _ in batch])
        self._batch_flight = flight
        flight.add_done_callback(lambda done: self._batch_done(done, batch))

    def _batch_done(self, flight: asyncio.Future[list[str | Exception]],
                    batch: list[tuple[Json, asyncio.Future[str]]]) -> None:
        self._batch_flight = None
        error = flight.exception() if not flight.cancelled() else asyncio.CancelledError()
        results = flight.result() if error is None else [error] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if self._batch:
            self._send_batch()

    def _put_many(self, docs: list[Json]) -> list[str | Exception]:
        """Activation records in one transaction. A conflict or a record the store cannot
        take is that record's alone (it wrote nothing); a database error fails them all."""
        out: list[str | Exception] = []
        conn = self.conn
        conn.execute("BEGIN")
        try:
            for doc in docs:
                try:
                    out.append(self._put(ACTIVATIONS, doc))
                except sqlite3.DatabaseError:
                    raise
                except Exception as exc:
                    out.append(exc)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        return out

    def _put(self, db: str, doc: Json) -> str:
        doc_id = doc["_id"]
        given = doc.get("_rev")
        body = {k: v for k, v in doc.items() if k not in ("_id", "_rev")}
        cur = self.conn.execute("SELECT rev FROM docs WHERE db=? AND id=?", (db, doc_id))
        row = cur.fetchone()
        if row is None and given:
            raise Conflict(Messages.CONCURRENT_MODIFICATION)
        if row is not None and row[0] != given:
            raise Conflict(Messages.CONCURRENT_MODIFICATION if given else Messages.EXISTS)
        rev = next_rev(given)
        etype, root, path, name, ts = _columns(db, body)
        self.conn.execute(
            "INSERT OR REPLACE INTO docs (db, id, rev, etype, root, path, name, ts, body) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (db, doc_id, rev, etype, root, path, name, ts, orjson.dumps(body)),
        )
        return rev

    async def delete(self, db: str, doc_id: str, rev: str) -> None:
        await self._call(self._delete, db, doc_id, rev)

    def _delete(self, db: str, doc_id: str, rev: str) -> None:
        row = self.conn.execute(
            "SELECT rev FROM docs WHERE db=? AND id=?", (db, doc_id)
        ).fetchone()
        if row is None:
            raise NotFound()
        if row[0] != rev:
            raise Conflict(Messages.CONCURRENT_MODIFICATION)
        self.conn.execute("DELETE FROM docs WHERE db=? AND id=?", (db, doc_id))

    async def all_docs(self, db: str) -> list[Json]:
        if db == ACTIVATIONS:
            await self._written()
        return await self._call(self._all_docs, db)  # type: ignore[no-any-return]

    def _all_docs(self, db: str) -> list[Json]:
        return _docs(self.conn.execute(
            "SELECT id, rev, body FROM docs WHERE db=? ORDER BY id", (db,)))

    # --- queries -----------------------------------------------------------------------

    def _entity_where(self, q: EntityQuery) -> tuple[str, tuple[Any, ...]]:
        column = "path" if q.exact_path else "root"
        return f"db='whisks' AND etype=? AND {column}=?", (q.entity_type, q.namespace)

    async def list_entities(self, query: EntityQuery) -> list[Json]:
        where, args = self._entity_where(query)
        return await self._call(self._select, where, args, query.skip, query.limit)  # type: ignore[no-any-return]

    async def count_entities(self, query: EntityQuery) -> int:
        where, args = self._entity_where(query)
        return await self._call(self._count, where, args)  # type: ignore[no-any-return]

    def _activation_where(self, q: ActivationQuery) -> tuple[str, tuple[Any, ...]]:
        clauses: list[str] = ["db='activations'", "root=?"]
        args: list[Any] = [q.namespace]
        if q.name is not None:
            clauses.append("name=?")
            args.append(q.name)
        else:
            # Every activation row has this type: naming it lets SQLite walk docs_by_type
            # in ts order instead of sorting the whole namespace for each page.
            clauses.append("etype='activation'")
        if q.since is not None:
            clauses.append("ts>=?")
            args.append(q.since)
        if q.upto is not None:
            clauses.append("ts<=?")
            args.append(q.upto)
        return " AND ".join(clauses), tuple(args)

    async def list_activations(self, query: ActivationQuery) -> list[Json]:
        await self._written()
        where, args = self._activation_where(query)
        return await self._call(self._select, where, args, query.skip, query.limit)  # type: ignore[no-any-return]

    async def count_activations(self, query: ActivationQuery) -> int:
        await self._written()
        where, args = self._activation_where(query)
        return await self._call(self._count, where, args)  # type: ignore[no-any-return]

    def _select(self, where: str, args: tuple[Any, ...], skip: int, limit: int) -> list[Json]:
        return _docs(self.conn.execute(
            f"SELECT id, rev, body FROM docs WHERE {where} ORDER BY ts DESC, id LIMIT ? OFFSET ?",
            (*args, limit, skip)))

    def _count(self, where: str, args: tuple[Any, ...]) -> int:
        row = self.conn.execute(f"SELECT COUNT(*) FROM docs WHERE {where}", args).fetchone()
        return int(row[0])


def _columns(db: str, body: Json) -> tuple[str, str, str, str, int]:
    """(entity type, root namespace, path, name key, sort timestamp) for the indexes."""
    if db == ACTIVATIONS:
        ns = str(body.get("namespace", ""))
        return "activation", ns, ns, activation_name_key(body), int(body.get("start") or 0)
    path = str(body.get("namespace", ""))
    root = path.split("/", 1)[0]
    return (str(body.get("entityType", "")), root, path, str(body.get("name", "")),
            int(body.get("updated") or 0))


def _docs(rows: Iterable[tuple[str, str, bytes]]) -> list[Json]:
    """Documents from ``(id, rev, body)`` rows, with their ``_id`` and ``_rev``."""
    out = []
    for doc_id, rev, body in rows:
        doc: Json = orjson.loads(body)
        doc["_id"], doc["_rev"] = doc_id, rev
        out.append(doc)
    return out
