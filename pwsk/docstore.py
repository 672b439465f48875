"""A small CouchDB-compatible document database for actions on the embedded deployment.

Actions that keep data (the brewery's measurements, thresholds, alarm states) speak the
CouchDB HTTP API, so the same code runs against real CouchDB in the distributed stack and
against this store, which ``pwsk standalone`` serves at ``/couch/{namespace}/``. It keeps
the subset those actions need, with CouchDB's semantics: databases, documents with ``_rev``
and conflicts (409), ``_all_docs``, and Mango ``_find`` (selectors with ``$eq $ne $gt $gte
$lt $lte $in $exists $and $or``, ``sort``, ``limit``, ``skip``, ``fields``). ``_index`` is
accepted and answered like CouchDB (SQLite scans the JSON; fine at a brewery's scale).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from .errors import BadRequest, Conflict, NotFound
from .store.base import next_rev

Json = dict[str, Any]
_DB_NAME = re.compile(r"\A[a-z][a-z0-9_$()+/-]{0,127}\Z")
_FIELD = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_OPS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
MAX_FIND_LIMIT = 10_000


def check_db_name(name: str) -> str:
    if not _DB_NAME.match(name):
        raise BadRequest("Name: '" + name[:80] + "'. Only lowercase characters (a-z), digits "
                         "(0-9), and any of the characters _, $, (, ), +, -, and / are "
                         "allowed. Must begin with a letter.")
    return name


class DocStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pwsk-docstore")
        self._conn: sqlite3.Connection | None = None

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))

    async def start(self) -> None:
        await self._call(self._open)

    def _open(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path) if self.path else ":memory:",
                               check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript("""
            CREATE TABLE IF NOT EXISTS dbs (name TEXT PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS docs (db TEXT NOT NULL, id TEXT NOT NULL,
                rev TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (db, id));
        """)
        self._conn = conn

    async def stop(self) -> None:
        if self._conn is not None:
            await self._call(self._conn.close)
            self._conn = None
        self._pool.shutdown(wait=True)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("docstore not started")
        return self._conn

    # --- databases -----------------------------------------------------------------------

    async def create_db(self, db: str) -> bool:
        """True if created, False if it existed (CouchDB: 201 / 412)."""
        return bool(await self._call(self._create_db, db))

    def _create_db(self, db: str) -> bool:
        cur = self.conn.execute("INSERT OR IGNORE INTO dbs (name) VALUES (?)", (db,))
        return cur.rowcount == 1

    async def db_info(self, db: str) -> Json:
        return await self._call(self._db_info, db)  # type: ignore[no-any-return]

    def _db_info(self, db: str) -> Json:
        self._require(db)
        count = self.conn.execute("SELECT COUNT(*) FROM docs WHERE db=?", (db,)).fetchone()[0]
        return {"db_name": db.split("/", 1)[-1], "doc_count": count, "doc_del_count": 0}

    async def delete_db(self, db: str) -> None:
        await self._call(self._delete_db, db)

    def _delete_db(self, db: str) -> None:
        self._require(db)
        self.conn.execute("DELETE FROM docs WHERE db=?", (db,))
        self.conn.execute("DELETE FROM dbs WHERE name=?", (db,))

    def _require(self, db: str) -> None:
        if self.conn.execute("SELECT 1 FROM dbs WHERE name=?", (db,)).fetchone() is None:
            raise NotFound("Database does not exist.")

    # --- documents -----------------------------------------------------------------------

    async def put(self, db: str, doc: Json) -> Json:
        return await self._call(self._put, db, doc)  # type: ignore[no-any-return]

    def _put(self, db: str, doc: Json) -> Json:
        self._require(db)
        doc_id = doc.get("_id") or uuid.uuid4().hex
        if not isinstance(doc_id, str) or doc_id.startswith("_"):
            raise BadRequest("Only reserved document ids may start with underscore.")
        given = doc.get("_rev")
        row = self.conn.execute("SELECT rev FROM docs WHERE db=? AND id=?",
                                (db, doc_id)).fetchone()
        if (row is None and given) or (row is not None and row[0] != given):
            raise Conflict("Document update conflict.")
        rev = next_rev(given)
        body = {k: v for k, v in doc.items() if k not in ("_id", "_rev")}
        self.conn.execute("INSERT OR REPLACE INTO docs (db, id, rev, body) VALUES (?,?,?,?)",
                          (db, doc_id, rev, orjson.dumps(body).decode()))
        return {"ok": True, "id": doc_id, "rev": rev}

    async def get(self, db: str, doc_id: str) -> Json:
        return await self._call(self._get, db, doc_id)  # type: ignore[no-any-return]

    def _get(self, db: str, doc_id: str) -> Json:
        self._require(db)
        row = self.conn.execute("SELECT rev, body FROM docs WHERE db=? AND id=?",
                                (db, doc_id)).fetchone()
        if row is None:
            raise NotFound("missing")
        return {"_id": doc_id, "_rev": row[0], **orjson.loads(row[1])}

    async def delete(self, db: str, doc_id: str, rev: str | None) -> Json:
        return await self._call(self._delete, db, doc_id, rev)  # type: ignore[no-any-return]

    def _delete(self, db: str, doc_id: str, rev: str | None) -> Json:
        self._require(db)
        row = self.conn.execute("SELECT rev FROM docs WHERE db=? AND id=?",
                                (db, doc_id)).fetchone()
        if row is None:
            raise NotFound("missing")
        if row[0] != rev:
            raise Conflict("Document update conflict.")
        self.conn.execute("DELETE FROM docs WHERE db=? AND id=?", (db, doc_id))
        return {"ok": True, "id": doc_id, "rev": next_rev(rev)}

    async def all_docs(self, db: str, include_docs: bool, limit: int, skip: int) -> Json:
        return await self._call(self._all_docs, db, include_docs, limit, skip)  # type: ignore[no-any-return]

    def _all_docs(self, db: str, include_docs: bool, limit: int, skip: int) -> Json:
        self._require(db)
        total = self.conn.execute("SELECT COUNT(*) FROM docs WHERE db=?", (db,)).fetchone()[0]
        rows = self.conn.execute(
            "SELECT id, rev, body FROM docs WHERE db=? ORDER BY id LIMIT ? OFFSET ?",
            (db, limit, skip)).fetchall()
        out = []
        for doc_id, rev, body in rows:
            row: Json = {"id": doc_id, "key": doc_id, "value": {"rev": rev}}
            if include_docs:
                row["doc"] = {"_id": doc_id, "_rev": rev, **orjson.loads(body)}
            out.append(row)
        return {"total_rows": total, "offset": skip, "rows": out}

    # --- Mango ---------------------------------------------------------------------------

    async def find(self, db: str, query: Json) -> Json:
        return await self._call(self._find, db, query)  # type: ignore[no-any-return]

    def _find(self, db: str, query: Json) -> Json:
        self._require(db)
        selector = query.get("selector")
        if not isinstance(selector, dict):
            raise BadRequest("Missing required key: selector")
        where, args = _selector_sql(selector)
        order = _sort_sql(query.get("sort"))
        limit = query.get("limit", 25)
        skip = query.get("skip", 0)
        if not isinstance(limit, int) or not isinstance(skip, int) or limit < 0 or skip < 0:
            raise BadRequest("limit and skip must be non-negative integers")
        rows = self.conn.execute(
            f"SELECT id, rev, body FROM docs WHERE db=? AND ({where}) {order} LIMIT ? OFFSET ?",
            (db, *args, min(limit, MAX_FIND_LIMIT), skip)).fetchall()
        fields = query.get("fields")
        docs = []
        for doc_id, rev, body in rows:
            doc = {"_id": doc_id, "_rev": rev, **orjson.loads(body)}
            if isinstance(fields, list):
                doc = {k: v for k, v in doc.items() if k in fields}
            docs.append(doc)
        return {"docs": docs}


def _path(field: str) -> str:
    if field in ("_id", "_rev"):
        return "id" if field == "_id" else "rev"
    if not _FIELD.match(field):
        raise BadRequest(f"Invalid field name '{field[:80]}'.")
    return f"json_extract(body, '$.{field}')"


def _value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        raise BadRequest("Only scalar values can be compared.")
    return value


def _selector_sql(selector: Json) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for key, cond in selector.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                raise BadRequest(f"{key} needs a non-empty array.")
            parts = [_selector_sql(c) if isinstance(c, dict) else _bad(key) for c in cond]
            joiner = " AND " if key == "$and" else " OR "
            clauses.append("(" + joiner.join(p[0] for p in parts) + ")")
            for p in parts:
                args += p[1]
            continue
        column = _path(key)
        if not isinstance(cond, dict):
            cond = {"$eq": cond}
        for op, operand in cond.items():
            if op in _OPS:
                clauses.append(f"{column} {_OPS[op]} ?")
                args.append(_value(operand))
            elif op == "$in":
                if not isinstance(operand, list) or not operand:
                    raise BadRequest("$in needs a non-empty array.")
                clauses.append(f"{column} IN ({','.join('?' * len(operand))})")
                args += [_value(v) for v in operand]
            elif op == "$exists":
                clauses.append(f"{column} IS {'NOT ' if operand else ''}NULL")
            else:
                raise BadRequest(f"Invalid operator: {op[:20]}")
    return (" AND ".join(clauses) or "1=1"), args


def _bad(key: str) -> tuple[str, list[Any]]:
    raise BadRequest(f"{key} needs an array of selectors.")


def _sort_sql(sort: Any) -> str:
    if sort is None:
        return "ORDER BY id"
    if not isinstance(sort, list):
        raise BadRequest("sort must be an array")
    parts = []
    for item in sort:
        if isinstance(item, str):
            parts.append(f"{_path(item)} ASC")
        elif isinstance(item, dict) and len(item) == 1:
            (field, direction), = item.items()
            if direction not in ("asc", "desc"):
                raise BadRequest("sort direction must be asc or desc")
            parts.append(f"{_path(field)} {direction.upper()}")
        else:
            raise BadRequest("Invalid sort field.")
    return "ORDER BY " + ", ".join(parts) if parts else "ORDER BY id"
