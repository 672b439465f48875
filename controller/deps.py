"""Request-level helpers shared by the routers: identity, JSON bodies, list parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from pwsk.errors import BadRequest, PayloadTooLarge
from pwsk.limits import (
    LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX,
    MAX_HTTP_BODY,
    MAX_JSON_DEPTH,
    MAX_PARAMETERS_SIZE,
    json_depth_exceeds,
)
from pwsk.messages import Identity
from pwsk.names import DEFAULT_NAMESPACE, check_name

from .core import Controller

Json = dict[str, Any]

# Integers beyond this overflow the store's 64-bit columns (and JavaScript's exact range).
MAX_QUERY_INT = 2**53 - 1


async def get_controller(request: Request) -> Controller:
    # async on purpose: FastAPI runs plain-def dependencies in a thread pool.
    controller: Controller = request.app.state.controller
    return controller


async def get_identity(request: Request) -> Identity:
    controller: Controller = request.app.state.controller
    identity = await controller.auth.authenticate(request.headers.get("authorization"))
    request.state.identity = identity
    return identity


Ctl = Annotated[Controller, Depends(get_controller)]
Caller = Annotated[Identity, Depends(get_identity)]


def namespace_of(identity: Identity, ns: str) -> str:
    """``_`` means the caller's namespace (spec §1.1)."""
    if ns == DEFAULT_NAMESPACE:
        return identity.namespace
    check_name(ns, "namespace")
    return ns


async def read_body(request: Request, limit: int = MAX_HTTP_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large("Request", int(declared), limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large("Request", size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(what: str, size: int, limit: int) -> str:
    return f"{what} larger than allowed: {size} bytes exceeds the limit of {limit} bytes."


async def json_object(request: Request, limit: int = MAX_HTTP_BODY,
                      what: str = "Request") -> Json:
    """The body as a JSON object; empty means ``{}``; anything else is a 400."""
    raw = await read_body(request, limit if limit >= MAX_HTTP_BODY else MAX_HTTP_BODY)
    if len(raw) > limit:
        raise PayloadTooLarge(too_large(what, len(raw), limit))
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request content was malformed:\n{exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("The request content was malformed:\nexpected a JSON object.")
    check_depth(data)
    return data


def check_depth(value: Any) -> None:
    if json_depth_exceeds(value):
        raise BadRequest(f"The request content was malformed:\nJSON nested deeper than "
                         f"{MAX_JSON_DEPTH} levels.")


def flag(value: str | None, name: str, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise BadRequest(f"The request content was malformed: '{name}' must be true or false.")


def int_param(value: str | None, name: str, default: int, lo: int = 0,
              hi: int | None = None, collection: str = "") -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"The value '{value[:40]}' for '{name}' is not an integer.") from None
    if number < lo or number > (MAX_QUERY_INT if hi is None else hi):
        if name == "limit":
            raise BadRequest(
                f"The value '{number}' is not in the range of {lo} to {hi} for {collection}.")
        raise BadRequest(f"The value '{value[:40]}' for '{name}' is out of range.")
    return number


def list_window(request: Request, collection: str) -> tuple[int, int, bool]:
    """(skip, limit, count) with OpenWhisk's rules: limit 0..200, 0 meaning 200."""
    q = request.query_params
    limit = int_param(q.get("limit"), "limit", LIST_LIMIT_DEFAULT, 0, LIST_LIMIT_MAX, collection)
    skip = int_param(q.get("skip"), "skip", 0, 0)
    return skip, limit or LIST_LIMIT_MAX, flag(q.get("count"), "count")


def entity_body_limits(body: Json) -> None:
    """Parameters of an entity are capped at 1 MB (413), whatever the body's size."""
    if "parameters" in body:
        size = len(orjson.dumps(body["parameters"]))
        if size > MAX_PARAMETERS_SIZE:
            raise PayloadTooLarge(too_large("Parameters", size, MAX_PARAMETERS_SIZE))


async def list_own(request: Request, caller: Identity, ns: str, ctl: Controller,
                   entity_type: str, collection: str,
                   summary: Callable[[Json], Json]) -> Any:
    """``GET /namespaces/{ns}/{collection}``: the caller's own entities, newest first."""
    from pwsk.store import EntityQuery

    from .entities import check_namespace

    ns = namespace_of(caller, ns)
    check_namespace(caller, ns)
    skip, limit, count = list_window(request, collection)
    query = EntityQuery(entity_type, ns, False, skip, limit)
    if count:
        return {collection: await ctl.store.count_entities(query)}
    return [summary(d) for d in await ctl.store.list_entities(query)]
