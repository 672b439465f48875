"""API routes (``wsk api``): base path + relative path + verb → a web action.

OpenWhisk keeps routes in a separate API gateway managed through the web actions
``/whisk.system/apimgmt/{createApi,getApi,deleteApi}.http``; clients (the CLI, the npm
``openwhisk`` package) call those paths with the caller's key. pwsk answers the same paths
itself, keeps one document per (namespace, base path) in the whisks database, serves the
routes under ``/gw/{namespace}{basepath}{relpath}`` and describes each API as a Swagger 2.0
document, as the API gateway does.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from pwsk.entities import now_ms, truthy
from pwsk.errors import BadRequest, Conflict, Forbidden, NotFound
from pwsk.messages import Identity
from pwsk.names import FQN, parse_fqn
from pwsk.store import WHISKS, EntityQuery

from ..core import Controller
from ..deps import Caller, Ctl, json_object
from .web import find_web_action, serve

router = APIRouter(tags=["api gateway"])
MGMT = "/api/v1/web/whisk.system/apimgmt"
VERBS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
RESPONSE_TYPES = ("http", "json", "text", "svg", "html")
_PATH = re.compile(r"\A/[A-Za-z0-9_.~{}/-]*\Z")
Json = dict[str, Any]


def doc_id(namespace: str, basepath: str) -> str:
    return f"{namespace}/_api{basepath}"


def gateway_url(ctl: Controller, namespace: str) -> str:
    return f"{ctl.settings.api_host.rstrip('/')}/gw/{namespace}"


def _check_path(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _PATH.match(value) or "//" in value:
        raise BadRequest(f"The {what} '{str(value)[:80]}' is not valid: it must start with "
                         "'/' and use letters, digits, '-', '_', '.', '~' and {params}.")
    return value.rstrip("/") or "/"


def swagger(doc: Json) -> Json:
    """The Swagger 2.0 description of one API document."""
    paths: Json = {}
    for route in doc["routes"]:
        action = route["action"]
        paths.setdefault(route["relpath"], {})[route["operation"].lower()] = {
            "operationId": f"{route['operation'].lower()}{route['relpath']}",
            "responses": {"200": {"description": "A successful invocation response"}},
            "x-openwhisk": {"namespace": action["namespace"], "action": action["name"],
                            "package": action.get("package", ""), "url": action["backendUrl"]},
            "x-pwsk-response-type": route["responsetype"],
        }
    return {"swagger": "2.0", "basePath": doc["basepath"],
            "info": {"title": doc.get("apiName") or doc["basepath"], "version": "1.0.0"},
            "paths": paths}


def api_entry(ctl: Controller, doc: Json) -> Json:
    key = f"API:{doc['namespace']}:{doc['basepath']}"
    return {"id": key, "key": key, "value": {
        "namespace": doc["namespace"], "gwApiActivated": True, "tenantId": doc["namespace"],
        "gwApiUrl": gateway_url(ctl, doc["namespace"]) + doc["basepath"],
        "apidoc": swagger(doc)}}


def _routes_from(apidoc: Json, caller: Identity) -> tuple[str, str | None, list[Json]]:
    """(basepath, apiName, routes) from a createApi body, the simple or the swagger form."""
    raw = apidoc.get("swagger")
    if raw is not None:
        try:
            spec = orjson.loads(raw) if isinstance(raw, str) else raw
        except orjson.JSONDecodeError:
            raise BadRequest("The swagger document is not valid JSON.") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
            raise BadRequest("The swagger document is not valid: it needs 'paths'.")
        basepath = _check_path(spec.get("basePath", "/"), "base path")
        routes = []
        for relpath, ops in spec["paths"].items():
            for op, detail in _mapping(ops, f"path {relpath}").items():
                operation = _mapping(detail, f"operation {op} {relpath}")
                ext = _mapping(operation.get("x-openwhisk"), f"x-openwhisk of {op} {relpath}")
                name, pkg, ns = ext.get("action"), ext.get("package") or "", ext.get(
                    "namespace", "_")
                if not all(isinstance(v, str) for v in (name, pkg, ns)) or not name:
                    raise BadRequest(f"Operation {op} {relpath} has no x-openwhisk action.")
                routes.append(_route(relpath, op, f"/{ns}/{pkg + '/' if pkg else ''}{name}",
                                     caller, operation.get("x-pwsk-response-type", "json")))
        title = _mapping(spec.get("info"), "info").get("title")
        return basepath, title if isinstance(title, str) else None, routes
    basepath = _check_path(apidoc.get("gatewayBasePath", "/"), "base path")
    action = apidoc.get("action") or {}
    if not isinstance(action, dict) or not isinstance(action.get("name"), str):
        raise BadRequest("The API definition needs an action.")
    target = action["name"]
    if not target.startswith("/"):
        target = f"/{action.get('namespace') or '_'}/{target}"
    route = _route(apidoc.get("gatewayPath"), apidoc.get("gatewayMethod"), target, caller,
                   "json")
    name = apidoc.get("apiName")
    return basepath, name if isinstance(name, str) else None, [route]


def _mapping(value: Any, what: str) -> Json:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"The swagger document is not valid: {what[:80]} must be an object.")
    return value


def _route(relpath: Any, operation: Any, action: str, caller: Identity,
           responsetype: Any) -> Json:
    relpath = _check_path(relpath, "relative path")
    verb = str(operation or "").upper()
    if verb not in VERBS:
        raise BadRequest(f"The operation '{str(operation)[:20]}' is not valid: use one of "
                         f"{', '.join(VERBS)}.")
    fqn = parse_fqn(action).resolve(caller.namespace)
    if fqn.namespace != caller.namespace:
        raise Forbidden()
    if responsetype not in RESPONSE_TYPES:
        raise BadRequest(f"The response type '{str(responsetype)[:20]}' is not valid: use one "
                         f"of {', '.join(RESPONSE_TYPES)}.")
    return {"relpath": relpath, "operation": verb, "responsetype": responsetype,
            "action": {"namespace": fqn.namespace, "name": fqn.name,
                       "package": fqn.package or "", "fqn": str(fqn)}}


# The npm client calls these paths without an extension: a web action's default is .http.
@router.post(f"{MGMT}/createApi", include_in_schema=False)
@router.post(f"{MGMT}/createApi.http", summary="Create an API route (wsk api create)")
async def create_api(request: Request, caller: Caller, ctl: Ctl) -> Any:
    body = await json_object(request)
    apidoc = body.get("apidoc")
    if not isinstance(apidoc, dict):
        raise BadRequest("The request content was malformed: 'apidoc' is required.")
    basepath, api_name, routes = _routes_from(apidoc, caller)
    responsetype = request.query_params.get("responsetype")
    for route in routes:
        if responsetype and apidoc.get("swagger") is None:
            route["responsetype"] = responsetype
        if route["responsetype"] not in RESPONSE_TYPES:
            raise BadRequest(f"The response type '{route['responsetype'][:20]}' is not valid.")
        fqn = parse_fqn(route["action"]["fqn"])
        try:
            await find_web_action(ctl, fqn)
        except NotFound:
            raise BadRequest(
                f"Action '{fqn}' is not a web action. Issue 'pwsk action update \"{fqn}\" "
                "--web true' to convert the action to a web action.") from None
        route["action"]["backendUrl"] = (
            f"{ctl.settings.api_host.rstrip('/')}/api/v1/web/{fqn.namespace}/"
            f"{fqn.package or 'default'}/{fqn.name}.{route['responsetype']}")
    for _ in range(5):
        doc = await ctl.store.get(WHISKS, doc_id(caller.namespace, basepath))
        if doc is None:
            doc = {"_id": doc_id(caller.namespace, basepath), "entityType": "api",
                   "namespace": caller.namespace, "name": basepath, "basepath": basepath,
                   "routes": []}
        if api_name:
            doc["apiName"] = api_name
        for route in routes:
            doc["routes"] = [r for r in doc["routes"] if (r["relpath"], r["operation"]) !=
                             (route["relpath"], route["operation"])] + [route]
        doc["updated"] = now_ms()
        try:
            doc["_rev"] = await ctl.store.put(WHISKS, doc)
        except Conflict:
            continue
        return api_entry(ctl, doc)["value"]
    raise Conflict()


async def _api_docs(ctl: Controller, namespace: str) -> list[Json]:
    return await ctl.store.list_entities(EntityQuery("api", namespace, False, 0, 10_000))


@router.get(f"{MGMT}/getApi", include_in_schema=False)
@router.get(f"{MGMT}/getApi.http", summary="List API routes (wsk api list/get)")
async def get_api(request: Request, caller: Caller, ctl: Ctl) -> Any:
    q = request.query_params
    basepath = q.get("basepath")
    relpath, operation = q.get("relpath"), (q.get("operation") or "").upper() or None
    apis = []
    for doc in await _api_docs(ctl, caller.namespace):
        if basepath and basepath not in (doc["basepath"], doc.get("apiName")):
            continue
        routes = [r for r in doc["routes"] if (not relpath or r["relpath"] == relpath)
                  and (not operation or r["operation"] == operation)]
        if routes:
            apis.append(api_entry(ctl, {**doc, "routes": routes}))
    return {"apis": apis}


@router.delete(f"{MGMT}/deleteApi", include_in_schema=False)
@router.delete(f"{MGMT}/deleteApi.http", summary="Delete API routes (wsk api delete)")
async def delete_api(request: Request, caller: Caller, ctl: Ctl) -> Any:
    q = request.query_params
    basepath = q.get("basepath") or ""
    relpath, operation = q.get("relpath"), (q.get("operation") or "").upper() or None
    target = None
    for doc in await _api_docs(ctl, caller.namespace):
        if basepath in (doc["basepath"], doc.get("apiName")):
            target = doc
            break
    if target is None:
        raise NotFound()
    keep = [r for r in target["routes"] if relpath and (r["relpath"] != relpath or (
        operation is not None and r["operation"] != operation))]
    if len(keep) == len(target["routes"]):
        raise NotFound()
    if keep:
        target["routes"] = keep
        await ctl.store.put(WHISKS, target)
    else:
        await ctl.store.delete(WHISKS, target["_id"], target["_rev"])
    return {}


def _match(template: str, path: str) -> dict[str, str] | None:
    t_parts, p_parts = template.strip("/").split("/"), path.strip("/").split("/")
    if len(t_parts) != len(p_parts):
        return None
    params: dict[str, str] = {}
    for t, p in zip(t_parts, p_parts, strict=True):
        if t.startswith("{") and t.endswith("}") and p:
            params[t[1:-1]] = p
        elif t != p:
            return None
    return params


@router.api_route("/gw/{namespace}/{rest:path}", methods=list(VERBS),
                  summary="Call an API route", include_in_schema=False)
async def call_route(namespace: str, rest: str, request: Request, ctl: Ctl) -> Response:
    path = "/" + rest
    best: tuple[int, Json, dict[str, str]] | None = None
    for doc in await _api_docs(ctl, namespace):
        base = doc["basepath"].rstrip("/")
        if base and not (path == base or path.startswith(base + "/")):
            continue
        remainder = path[len(base):] or "/"
        for route in doc["routes"]:
            if route["operation"] != request.method and not (
                    request.method == "HEAD" and route["operation"] == "GET"):
                continue
            params = _match(route["relpath"], remainder)
            if params is not None and (best is None or len(base) > best[0]):
                best = (len(base), route, params)
    if best is None:
        raise NotFound()
    _, route, params = best
    action = route["action"]
    owner, resolved = await find_web_action(
        ctl, FQN(action["namespace"], action["name"], action.get("package") or None))
    if not truthy(resolved.action.annotation("web-export")):
        raise NotFound()
    return await serve(request, ctl, owner, resolved, "." + route["responsetype"], "", params)
