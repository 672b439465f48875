"""The embedded store: one SQLite file in WAL mode, driven from one worker thread.

SQLite allows one writer at a time; instead of fighting over its lock, every call runs on a
single dedicated thread, so the event loop never blocks and writes never interleave. A
document is one row: the JSON body plus the columns the list queries filter and sort on.
"""

from __future__ import annotations

import asyncio
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
        rev: str = await self._call(self._put, db, doc)
        return rev

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
        if q.since is not None:
            clauses.append("ts>=?")
            args.append(q.since)
        if q.upto is not None:
            clauses.append("ts<=?")
            args.append(q.upto)
        return " AND ".join(clauses), tuple(args)

    async def list_activations(self, query: ActivationQuery) -> list[Json]:
        where, args = self._activation_where(query)
        return await self._call(self._select, where, args, query.skip, query.limit)  # type: ignore[no-any-return]

    async def count_activations(self, query: ActivationQuery) -> int:
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
