"""The distributed store: CouchDB's HTTP API on one shared httpx client.

``couchdb://[user:password@]host[:port][?prefix=pwsk_]`` (``couchdbs://`` for TLS) names a
server; the three databases are ``<prefix>subjects``, ``<prefix>whisks`` and
``<prefix>activations``, created on ``start`` with the indexes the list queries need.

Only the API subset that CouchDB 3 and pouchdb-server (what the tests run against) share is
used: document ``GET``/``PUT``/``DELETE``, ``PUT /db``, ``_all_docs`` (``include_docs``,
``startkey``, ``skip``, ``limit``), Mango ``_index`` and ``_find`` (equality
and ``$gt``/``$gte``/``$lte`` on indexed fields, sort on the whole index, ``use_index``,
``skip``/``limit``), and one JavaScript map view with the built-in ``_count`` reduce for
counting, which Mango cannot do. No bookmarks, ``_purge``, ``_up`` or partitions.

Documents written to ``whisks`` and ``activations`` carry helper fields (``pwsk_*``, see
``HELPERS``) that the indexes are built on: CouchDB reserves names starting with ``_`` and
Mango indexes only documents that have every indexed field, so the fields are always set.
They are removed again on every read, so callers see exactly what they stored. The sort key
is the negated timestamp: an ascending index then gives newest first with ties in ``_id``
order, exactly as the SQLite store orders them.

Every engine failure (refused connection, timeout, 5xx, rejected credentials) raises
``ServiceUnavailable``; no httpx exception leaves this module.

Activation records (an invoker writes one per activation) go over pooled raw keep-alive
HTTP/1.1 connections (``_RawHttp``: the request in one send, the head in one read) when the
server is plain ``http``: httpx cost the invoker ~1 ms of CPU per record here, and wrote each
request's head and body in two sends. Everything else keeps the httpx client.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import orjson

from ..errors import (
    Conflict,
    InternalError,
    Messages,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from ..http1 import Conn, Pool, parse_head
from .base import (
    ACTIVATIONS,
    DATABASES,
    WHISKS,
    ActivationQuery,
    EntityQuery,
    Json,
    activation_name_key,
)

DEFAULT_PREFIX = "pwsk_"
# One policy for every call: connecting is quick or the engine is down; a query may wait for
# an index to catch up with recent writes.
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
HEALTH_TIMEOUT_S = 1.0  # a /health probe of the server

ALL_DOCS_PAGE = 500
HELPERS = ("pwsk_type", "pwsk_root", "pwsk_path", "pwsk_name", "pwsk_sort")
FIND_DDOC = "pwsk_find"
COUNT_DDOC = "pwsk_count"
# CouchDB's rule for database names (the prefix is the start of three of them).
_DB_NAME = re.compile(r"[a-z][a-z0-9_$()+/-]*")

# Mango indexes, per database: name -> indexed fields (all sorted ascending).
_INDEXES: dict[str, dict[str, list[str]]] = {
    WHISKS: {
        "by_root": ["pwsk_type", "pwsk_root", "pwsk_sort"],
        "by_path": ["pwsk_type", "pwsk_path", "pwsk_sort"],
    },
    ACTIVATIONS: {
        "by_root": ["pwsk_root", "pwsk_sort"],
        "by_name": ["pwsk_root", "pwsk_name", "pwsk_sort"],
    },
}

# The counting views: one row per way a document is counted, reduced by the built-in _count.
_COUNT_MAPS = {
    WHISKS: """function (doc) {
  if (doc.pwsk_type !== undefined) {
    emit(["root", doc.pwsk_type, doc.pwsk_root], null);
    emit(["path", doc.pwsk_type, doc.pwsk_path], null);
  }
}""",
    ACTIVATIONS: """function (doc) {
  if (doc.pwsk_root !== undefined) {
    emit(["all", doc.pwsk_root, doc.pwsk_sort], null);
    emit(["name", doc.pwsk_root, doc.pwsk_name, doc.pwsk_sort], null);
  }
}""",
}


class CouchStore:
    """``Store`` on CouchDB (or anything speaking its API); see the module docstring."""

    def __init__(self, base_url: str, *, prefix: str = DEFAULT_PREFIX,
                 auth: tuple[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not _DB_NAME.fullmatch(f"{prefix}{ACTIVATIONS}"):
            raise ValueError(f"CouchDB database names cannot start with {prefix!r}")
        self.base_url = base_url.rstrip("/")
        self.prefix = prefix
        self._auth = auth
        self._transport = transport  # tests put a fake engine here
        self._client: httpx.AsyncClient | None = None
        self._raw: _RawHttp | None = None

    @classmethod
    def from_url(cls, url: str) -> CouchStore:
        """Parse ``couchdb://[user:password@]host[:port][?prefix=...]``."""
        parts = urlsplit(url)
        if parts.scheme not in ("couchdb", "couchdbs") or not parts.hostname:
            raise ValueError(f"not a couchdb:// store url: {url!r}")
        scheme = "https" if parts.scheme == "couchdbs" else "http"
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = parts.port or (5984 if scheme == "http" else 6984)
        auth = None
        if parts.username is not None:
            auth = (unquote(parts.username), unquote(parts.password or ""))
        prefix = parse_qs(parts.query).get("prefix", [DEFAULT_PREFIX])[-1]
        return cls(f"{scheme}://{host}:{port}", prefix=prefix, auth=auth)

    def __repr__(self) -> str:  # never show the credentials
        return f"CouchStore({self.base_url!r}, prefix={self.prefix!r})"

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, then create the databases, indexes and views that are missing."""
        if self._client is not None:
            return
        self._client = httpx.AsyncClient(
            base_url=self.base_url, auth=self._auth, timeout=TIMEOUT, transport=self._transport,
            headers={"Accept": "application/json"})
        parts = urlsplit(self.base_url)
        if parts.scheme == "http" and parts.hostname and self._transport is None:
            self._raw = _RawHttp(parts.hostname, parts.port or 80, self._auth)
        try:
            for db in DATABASES:
                await self._ensure_database(db)
            for db, indexes in _INDEXES.items():
                for name, fields in indexes.items():
                    resp = await self._request("POST", f"/{self._db(db)}/_index", json={
                        "index": {"fields": fields}, "ddoc": FIND_DDOC, "name": name,
                        "type": "json"})
                    self._expect(resp, 200, 201)
            for db, map_fn in _COUNT_MAPS.items():
                await self._ensure_view(db, {"count": {"map": map_fn, "reduce": "_count"}})
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def health(self) -> dict[str, str]:
        """``{"status": "up"}`` when the server answers a probe of its activations database
        within a second, else ``"down"`` with the reason (for the controllers' /health)."""
        if self._client is None:
            return {"status": "down", "reason": "store not started"}
        try:
            resp = await self._client.get(f"/{self._db(ACTIVATIONS)}", timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError as exc:
            return {"status": "down", "reason": f"couchdb unreachable: {type(exc).__name__}"}
        if resp.status_code != 200:
            return {"status": "down", "reason": f"couchdb answered {resp.status_code}"}
        return {"status": "up"}

    async def _ensure_database(self, db: str) -> None:
        resp = await self._request("PUT", f"/{self._db(db)}")
        if resp.status_code != 412:  # 412: it exists already
            self._expect(resp, 201, 202)

    async def _ensure_view(self, db: str, views: Json) -> None:
        path = f"/{self._db(db)}/_design/{COUNT_DDOC}"
        # Two instances may start at once: on a conflict, read again and compare.
        for _ in range(3):
            resp = await self._request("GET", path)
            ddoc: Json = self._json(resp) if resp.status_code == 200 else {}
            if resp.status_code not in (200, 404):
                self._expect(resp, 200)
            if ddoc.get("views") == views:
                return
            body: Json = {"language": "javascript", "views": views}
            if "_rev" in ddoc:
                body["_rev"] = ddoc["_rev"]
            resp = await self._request("PUT", path, json=body)
            if resp.status_code != 409:
                self._expect(resp, 201, 202)
                return
        raise ServiceUnavailable(engine="couchdb", reason=f"could not write {path}")

    # --- documents ---------------------------------------------------------------------

    async def get(self, db: str, doc_id: str) -> Json | None:
        if not doc_id:
            return None
        resp = await self._request("GET", self._doc_path(db, doc_id))
        if resp.status_code == 404:
            return None
        self._expect(resp, 200)
        return _strip(self._json(resp))

    async def put(self, db: str, doc: Json) -> str:
        doc_id = doc["_id"]
        if not doc_id:
            raise ValueError("a document needs a non-empty _id")
        given = doc.get("_rev")
        body = {k: v for k, v in doc.items() if k not in ("_id", "_rev")}
        reserved = [k for k in body if k.startswith(("_", "pwsk_"))]
        if reserved:
            # CouchDB gives "_" fields meaning (``_deleted``, ``_attachments``) or refuses them.
            raise ValueError(f"document fields reserved by the store: {reserved}")
        if db in (WHISKS, ACTIVATIONS):
            body.update(_helpers(db, body))
        if given:
            body["_rev"] = given
        if db == ACTIVATIONS and self._raw is not None:
            resp: httpx.Response | _Answer = await self._raw_request(
                "PUT", self._doc_path(db, doc_id), orjson.dumps(body))
        else:
            resp = await self._request("PUT", self._doc_path(db, doc_id), json=body)
        if resp.status_code == 409 or (resp.status_code == 400 and given
                                        and "rev" in resp.text):
            # 400 "Invalid rev format": a revision this store never made, so a stale one.
            raise Conflict(Messages.CONCURRENT_MODIFICATION if given else Messages.EXISTS)
        if resp.status_code == 413:
            # Over CouchDB's max_document_size (8 MB by default; action code may be 48 MB).
            raise PayloadTooLarge(engine="couchdb", doc_id=doc_id, reason=resp.text[:200])
        self._expect(resp, 201, 202)
        rev: str = self._json(resp)["rev"]
        return rev

    async def delete(self, db: str, doc_id: str, rev: str) -> None:
        path = self._doc_path(db, doc_id)
        resp = await self._request("DELETE", path, params={"rev": rev})
        if resp.status_code in (200, 202):
            return
        if resp.status_code not in (400, 404, 409):
            self._expect(resp, 200)
        # Engines disagree on the status for a stale or malformed revision, or a document
        # deleted already (pouchdb-server says 404 for a stale one): ask what is there.
        if await self.get(db, doc_id) is None:
            raise NotFound()
        raise Conflict(Messages.CONCURRENT_MODIFICATION)

    async def all_docs(self, db: str) -> list[Json]:
        """``_all_docs`` in pages, without design documents."""
        out: list[Json] = []
        params: dict[str, str] = {"include_docs": "true", "limit": str(ALL_DOCS_PAGE)}
        while True:
            resp = await self._request("GET", f"/{self._db(db)}/_all_docs", params=params)
            self._expect(resp, 200)
            rows = self._json(resp)["rows"]
            out.extend(_strip(row["doc"]) for row in rows
                       if row.get("doc") and not row["id"].startswith("_design/"))
            if len(rows) < ALL_DOCS_PAGE:
                return out
            # The next page starts after the last id of this one.
            params = {**params, "startkey": orjson.dumps(rows[-1]["id"]).decode(), "skip": "1"}

    # --- queries -----------------------------------------------------------------------

    async def list_entities(self, query: EntityQuery) -> list[Json]:
        key = "pwsk_path" if query.exact_path else "pwsk_root"
        selector = {"pwsk_type": query.entity_type, key: query.namespace}
        index = "by_path" if query.exact_path else "by_root"
        return await self._find(WHISKS, index, selector, None, query.skip, query.limit)

    async def count_entities(self, query: EntityQuery) -> int:
        kind = "path" if query.exact_path else "root"
        return await self._count(WHISKS, {"key": [kind, query.entity_type, query.namespace]})

    async def list_activations(self, query: ActivationQuery) -> list[Json]:
        selector: Json = {"pwsk_root": query.namespace}
        index = "by_root"
        if query.name is not None:
            selector["pwsk_name"] = query.name
            index = "by_name"
        window = _sort_window(query)
        if window is None:
            return []
        return await self._find(ACTIVATIONS, index, selector, window, query.skip, query.limit)

    async def count_activations(self, query: ActivationQuery) -> int:
        window = _sort_window(query)
        if window is None:
            return 0
        lo, hi = window.get("$gte"), window.get("$lte")
        prefix: list[Any] = (["all", query.namespace] if query.name is None
                             else ["name", query.namespace, query.name])
        # null sorts before every number and {} after, so they stand for open ends.
        return await self._count(ACTIVATIONS, {"startkey": [*prefix, lo],
                                               "endkey": [*prefix, {} if hi is None else hi]})

    async def _find(self, db: str, index: str, selector: Json, window: Json | None,
                    skip: int, limit: int) -> list[Json]:
        if limit <= 0:
            return []
        fields = _INDEXES[db][index]
        # Always a range on the sort field (null sorts before every number): with one,
        # pouchdb-server applies skip/limit in the index instead of after loading every match
        # (5 ms instead of 38 ms for 30 of 500 entities).
        selector = {**selector, "pwsk_sort": window or {"$gt": None}}
        resp = await self._request("POST", f"/{self._db(db)}/_find", json={
            "selector": selector, "sort": [{f: "asc"} for f in fields],
            "use_index": [f"_design/{FIND_DDOC}", index], "skip": skip, "limit": limit})
        self._expect(resp, 200)
        return [_strip(doc) for doc in self._json(resp)["docs"]]

    async def _count(self, db: str, keys: Json) -> int:
        params = {k: orjson.dumps(v).decode() for k, v in keys.items()}
        resp = await self._request(
            "GET", f"/{self._db(db)}/_design/{COUNT_DDOC}/_view/count", params=params)
        self._expect(resp, 200)
        rows = self._json(resp)["rows"]
        return int(rows[0]["value"]) if rows else 0

    # --- HTTP --------------------------------------------------------------------------

    def _db(self, db: str) -> str:
        return f"{self.prefix}{db}"

    def _doc_path(self, db: str, doc_id: str) -> str:
        return f"/{self._db(db)}/{quote(_escape_id(doc_id), safe='')}"

    async def _request(self, method: str, path: str, *, json: Any = None,
                       params: dict[str, str] | None = None) -> httpx.Response:
        if self._client is None:
            raise RuntimeError("store not started")
        headers = {"Content-Type": "application/json"} if json is not None else None
        content = orjson.dumps(json) if json is not None else None
        try:
            resp = await self._client.request(method, path, content=content, params=params,
                                              headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(engine="couchdb", url=self.base_url,
                                     reason=repr(exc)) from exc
        self._refused(resp)
        return resp

    async def _raw_request(self, method: str, path: str, body: bytes) -> _Answer:
        assert self._raw is not None
        try:
            resp = await self._raw.request(method, path, body)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                IndexError, TimeoutError) as exc:
            raise ServiceUnavailable(engine="couchdb", url=self.base_url,
                                     reason=repr(exc)) from exc
        self._refused(resp)
        return resp

    def _refused(self, resp: httpx.Response | _Answer) -> None:
        """A 5xx, or credentials refused: the store is not usable now (an outage)."""
        if resp.status_code >= 500 or resp.status_code in (401, 403):
            raise ServiceUnavailable(engine="couchdb", url=self.base_url,
                                     status=resp.status_code, reason=resp.text[:200])

    def _expect(self, resp: httpx.Response | _Answer, *ok: int) -> None:
        if resp.status_code not in ok:
            # A request this module built was refused: a bug, not an outage.
            request = (resp.line if isinstance(resp, _Answer)
                       else f"{resp.request.method} {resp.request.url.path}")
            raise InternalError(engine="couchdb", status=resp.status_code, request=request,
                                reason=resp.text[:200])

    def _json(self, resp: httpx.Response | _Answer) -> Any:
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise ServiceUnavailable(engine="couchdb", url=self.base_url,
                                     reason="answer is not JSON") from exc


RAW_IDLE_S = 2.0  # an idle connection older than this is closed (node closes them after 5 s)
RAW_POOL_MAX = 32
RAW_TIMEOUT_S = 30.0


@dataclass(slots=True)
class _Answer:
    """What ``_RawHttp`` read: the parts of an httpx response this module looks at."""

    status_code: int
    content: bytes
    line: str  # the request, for errors

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class _RawHttp:
    """HTTP/1.1 to one server over pooled keep-alive connections: each request in one send,
    the answer's head in one read, its body by ``Content-Length``, chunks or the close.

    A request that fails on a reused connection before any byte of the answer came (the
    server closed it while idle) is sent once more on a new one; any other failure is the
    caller's (an activation record is retried, and its id makes a replay a conflict).
    """

    def __init__(self, host: str, port: int, auth: tuple[str, str] | None) -> None:
        self.host, self.port = host, port
        head = f"Host: {host}:{port}\r\nAccept: application/json\r\n"
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            head += f"Authorization: Basic {token}\r\n"
        self._head = head.encode("latin-1")
        self._pool = Pool(host, port, RAW_IDLE_S, RAW_POOL_MAX)

    def close(self) -> None:
        self._pool.close()

    async def request(self, method: str, path: str, body: bytes) -> _Answer:
        data = (f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + self._head
                + b"Content-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body)
        conn = self._pool.idle()
        if conn is not None:
            try:
                return await self._exchange(conn, data, method, path)
            except _Stale:
                pass  # closed by the server while idle: once more on a new connection
        conn = await self._pool.connect(TIMEOUT.connect or 5.0)
        return await self._exchange(conn, data, method, path)

    async def _exchange(self, conn: Conn, data: bytes, method: str, path: str) -> _Answer:
        reader, ok = conn.reader, False
        try:
            conn.writer.write(data)
            async with asyncio.timeout(RAW_TIMEOUT_S):
                try:
                    block = await reader.readuntil(b"\r\n\r\n")
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                        raise
                    raise _Stale() from exc
                head = parse_head(block)
                length, close = head.length, head.close
                if head.chunked:
                    parts = []
                    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                        parts.append(await reader.readexactly(size))
                        await reader.readexactly(2)
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailers
                    content = b"".join(parts)
                elif length is not None:
                    content = await reader.readexactly(length)
                else:
                    content, close = await reader.read(), True
            ok = not close
            return _Answer(head.status, content, f"{method} {path}")
        finally:
            if ok:
                self._pool.release(conn)
            else:
                conn.close()


class _Stale(ConnectionError):
    """A reused connection was closed before its answer began."""


def _helpers(db: str, body: Json) -> Json:
    """The fields the indexes and views are built on (see the module docstring)."""
    if db == ACTIVATIONS:
        return {"pwsk_root": str(body.get("namespace", "")),
                "pwsk_name": activation_name_key(body),
                "pwsk_sort": -int(body.get("start") or 0)}
    path = str(body.get("namespace", ""))
    return {"pwsk_type": str(body.get("entityType", "")), "pwsk_root": path.split("/", 1)[0],
            "pwsk_path": path, "pwsk_sort": -int(body.get("updated") or 0)}


def _sort_window(query: ActivationQuery) -> Json | None:
    """``since``/``upto`` as a range on the negated timestamp; None if nothing can match."""
    if query.since is not None and query.upto is not None and query.since > query.upto:
        return None
    window: Json = {}
    if query.upto is not None:
        window["$gte"] = -query.upto
    if query.since is not None:
        window["$lte"] = -query.since
    return window


# CouchDB reserves ids starting with "_" (``_design/…``, ``_all_docs``), and a GET of such an
# id would reach those endpoints. Such ids get a "~" in front, as do ids starting with "~"
# so the mapping stays reversible.
def _escape_id(doc_id: str) -> str:
    return f"~{doc_id}" if doc_id[0] in "_~" else doc_id


def _unescape_id(doc_id: str) -> str:
    return doc_id[1:] if doc_id.startswith("~") else doc_id


def _strip(doc: Json) -> Json:
    for key in HELPERS:
        doc.pop(key, None)
    doc["_id"] = _unescape_id(doc["_id"])
    return doc
