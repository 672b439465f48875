"""``/couch/{ns}/``: the CouchDB-compatible document store actions use on the embedded
deployment (``pwsk.docstore``). Basic auth with a key of ``ns`` (or ``_``); each namespace
sees only its own databases. Errors use CouchDB's ``{"error", "reason"}`` bodies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from pwsk.docstore import DocStore, check_db_name
from pwsk.errors import BadRequest, Conflict, Forbidden, NotFound, PwskError
from pwsk.limits import MAX_PAYLOAD_SIZE

from ..deps import MAX_QUERY_INT, Caller, Ctl, check_depth, namespace_of, read_body

router = APIRouter(prefix="/couch/{ns}", tags=["document store"], include_in_schema=False)
_ERRORS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
           409: "conflict", 412: "file_exists", 413: "too_large"}


def _docstore(ctl: Ctl) -> DocStore:
    store: DocStore | None = getattr(ctl, "docstore", None)
    if store is None:
        raise NotFound("This deployment has no embedded document store.")
    return store


async def _couch(call: Callable[[], Awaitable[Any]], status: int = 200) -> Response:
    try:
        result = await call()
    except PwskError as exc:
        code = 412 if isinstance(exc, Conflict) and exc.message.startswith("The database") \
            else exc.status
        return JSONResponse({"error": _ERRORS.get(code, "error"), "reason": exc.message},
                            status_code=code)
    return JSONResponse(result, status_code=status)


def _db(caller: Any, ns: str, db: str) -> str:
    if namespace_of(caller, ns) != caller.namespace:
        raise Forbidden()
    return f"{caller.namespace}/{check_db_name(db)}"


async def _json(request: Request) -> Any:
    raw = await read_body(request, MAX_PAYLOAD_SIZE)
    try:
        value = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequest("Request body is not valid JSON.") from None
    check_depth(value)
    return value


@router.get("/")
async def welcome(ns: str, caller: Caller) -> dict[str, Any]:
    return {"couchdb": "Welcome", "vendor": {"name": "pwsk"}, "version": "3.3.3"}


@router.put("/{db}")
async def create_db(ns: str, db: str, caller: Caller, ctl: Ctl) -> Response:
    async def run() -> Any:
        if not await _docstore(ctl).create_db(_db(caller, ns, db)):
            raise Conflict("The database could not be created, the file already exists.")
        return {"ok": True}
    return await _couch(run, 201)


@router.get("/{db}")
async def db_info(ns: str, db: str, caller: Caller, ctl: Ctl) -> Response:
    return await _couch(lambda: _docstore(ctl).db_info(_db(caller, ns, db)))


@router.delete("/{db}")
async def delete_db(ns: str, db: str, caller: Caller, ctl: Ctl) -> Response:
    async def run() -> Any:
        await _docstore(ctl).delete_db(_db(caller, ns, db))
        return {"ok": True}
    return await _couch(run)


@router.post("/{db}")
async def post_doc(ns: str, db: str, request: Request, caller: Caller, ctl: Ctl) -> Response:
    async def run() -> Any:
        doc = await _json(request)
        if not isinstance(doc, dict):
            raise BadRequest("Document must be a JSON object")
        return await _docstore(ctl).put(_db(caller, ns, db), doc)
    return await _couch(run, 201)


@router.post("/{db}/_find")
async def find(ns: str, db: str, request: Request, caller: Caller, ctl: Ctl) -> Response:
    async def run() -> Any:
        query = await _json(request)
        if not isinstance(query, dict):
            raise BadRequest("Request body must be a JSON object")
        return await _docstore(ctl).find(_db(caller, ns, db), query)
    return await _couch(run)


@router.post("/{db}/_index")
async def index(ns: str, db: str, request: Request, caller: Caller, ctl: Ctl) -> Response:
    async def run() -> Any:
        await _json(request)
        await _docstore(ctl).db_info(_db(caller, ns, db))
        return {"result": "created", "id": "_design/pwsk", "name": "pwsk"}
    return await _couch(run)


@router.get("/{db}/_all_docs")
async def all_docs(ns: str, db: str, request: Request, caller: Caller, ctl: Ctl) -> Response:
    q = request.query_params
    include = q.get("include_docs", "false") == "true"
    limit = _count(q.get("limit"), 1000, 10_000)
    skip = _count(q.get("skip"), 0, MAX_QUERY_INT)
    return await _couch(lambda: _docstore(ctl).all_docs(_db(caller, ns, db), include,
                                                        limit, skip))


def _count(value: str | None, default: int, cap: int) -> int:
    # isdecimal, not isdigit: int() refuses superscripts such as "²" that isdigit accepts.
    if not value or not value.isdecimal():
        return default
    return min(int(value), cap) if len(value) <= 18 else cap


@router.get("/{db}/{doc_id}")
async def get_doc(ns: str, db: str, doc_id: str, caller: Caller, ctl: Ctl) -> Response:
    return await _couch(lambda: _docstore(ctl).get(_db(caller, ns, db), doc_id))


@router.put("/{db}/{doc_id}")
async def put_doc(ns: str, db: str, doc_id: str, request: Request, caller: Caller,
                  ctl: Ctl) -> Response:
    async def run() -> Any:
        doc = await _json(request)
        if not isinstance(doc, dict):
            raise BadRequest("Document must be a JSON object")
        rev = request.query_params.get("rev")
        return await _docstore(ctl).put(_db(caller, ns, db),
                                        {**doc, "_id": doc_id, **({"_rev": rev} if rev else {})})
    return await _couch(run, 201)


@router.delete("/{db}/{doc_id}")
async def delete_doc(ns: str, db: str, doc_id: str, request: Request, caller: Caller,
                     ctl: Ctl) -> Response:
    rev = request.query_params.get("rev")
    return await _couch(lambda: _docstore(ctl).delete(_db(caller, ns, db), doc_id, rev))
