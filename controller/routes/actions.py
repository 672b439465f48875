"""``/namespaces/{ns}/actions``: CRUD, lists (also per package) and invoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from pwsk.activation import Activation, Status
from pwsk.entities import SEQUENCE, Action, Package
from pwsk.errors import BadRequest, Conflict, Messages, NotFound
from pwsk.limits import MAX_PAYLOAD_SIZE
from pwsk.names import FQN, check_name
from pwsk.redact import redact_doc
from pwsk.store import EntityQuery

from .. import openapi as oa
from ..deps import (
    Caller,
    Ctl,
    entity_body_limits,
    flag,
    int_param,
    json_object,
    list_window,
    namespace_of,
)
from ..entities import check_namespace, readable_package
from ..invoke import atomic_length

router = APIRouter(prefix="/api/v1/namespaces/{ns}/actions", tags=["actions"])

_STATUS_HTTP = {Status.SUCCESS: 200, Status.APPLICATION_ERROR: 502,
                Status.DEVELOPER_ERROR: 502, Status.WHISK_ERROR: 500}


def split_name(ns: str, rest: str) -> FQN:
    """``name`` or ``pkg/name`` after ``/actions/`` → an FQN (names are validated)."""
    parts = rest.split("/")
    if len(parts) == 1:
        return FQN(ns, check_name(parts[0], "action name"))
    if len(parts) == 2 and parts[0]:
        return FQN(ns, check_name(parts[1], "action name"), check_name(parts[0], "package name"))
    raise NotFound()


async def list_actions(ctl: Ctl, request: Request, ns: str, package: str | None) -> Any:
    skip, limit, count = list_window(request, "actions")
    path, exact = ns, False
    if package is not None:
        pkg = await ctl.entities.get(FQN(ns, package), Package)
        if pkg.binding is not None:
            pkg = await ctl.entities.get(pkg.binding, Package)
        path, exact = f"{pkg.namespace}/{pkg.name}", True
    query = EntityQuery("action", path, exact, skip, limit)
    if count:
        return {"actions": await ctl.store.count_entities(query)}
    docs = await ctl.store.list_entities(query)
    return [Action.from_doc(d).summary() for d in docs]


@router.get("", summary="List actions", openapi_extra=oa.extra(None, *oa.LIST))
async def list_all(ns: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    ns = namespace_of(caller, ns)
    check_namespace(caller, ns)
    return await list_actions(ctl, request, ns, None)


@router.get("/{rest:path}", summary="Get an action (or list a package's actions: pkg/)",
            openapi_extra=oa.extra(None, oa._query("code", "boolean", "include the code"),
                                   *oa.LIST))
async def get_action(ns: str, rest: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    ns = namespace_of(caller, ns)
    if rest.endswith("/") and rest.count("/") == 1:
        package = check_name(rest[:-1], "package name")
        if ns != caller.namespace:
            await readable_package(ctl.entities, caller, FQN(ns, package))
        return await list_actions(ctl, request, ns, package)
    fqn = split_name(ns, rest)
    if ns != caller.namespace:
        if fqn.package is None:
            check_namespace(caller, ns)
        else:
            await readable_package(ctl.entities, caller, FQN(ns, fqn.package))
    action = await ctl.entities.get(fqn, Action)
    return redact_doc(action.to_api(
        include_code=flag(request.query_params.get("code"), "code", True)))


@router.put("/{rest:path}", summary="Create or update an action",
            openapi_extra=oa.extra("ActionPut", oa.OVERWRITE))
async def put_action(ns: str, rest: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    ns = namespace_of(caller, ns)
    check_namespace(caller, ns)
    fqn = split_name(ns, rest)
    overwrite = flag(request.query_params.get("overwrite"), "overwrite")
    body = await json_object(request)
    entity_body_limits(body)
    if fqn.package is not None:
        pkg = await ctl.entities.get(FQN(ns, fqn.package), Package)
        if pkg.binding is not None:
            raise BadRequest(Messages.BINDING_NOT_PERMITTED)
    old = await ctl.entities.get_optional(fqn, Action)
    if old is not None and not overwrite:
        raise Conflict(Messages.EXISTS)
    action = Action.from_put(fqn, body, old)
    if action.exec.kind == SEQUENCE:
        await atomic_length(ctl.entities, ns, list(action.exec.components or []), fqn)
    await ctl.entities.put(action)
    return redact_doc(action.to_api())


@router.delete("/{rest:path}", summary="Delete an action")
async def delete_action(ns: str, rest: str, caller: Caller, ctl: Ctl) -> Any:
    ns = namespace_of(caller, ns)
    check_namespace(caller, ns)
    action = await ctl.entities.get(split_name(ns, rest), Action)
    await ctl.entities.delete(action)
    return redact_doc(action.to_api())


def wait_limit(request: Request, max_wait: int) -> int:
    return int_param(request.query_params.get("timeout"), "timeout", max_wait, 1, max_wait)


def activation_response(activation: Activation, result_only: bool) -> Response:
    """The blocking-invoke reply: 200/502/500 with the record, or just its result."""
    status = _STATUS_HTTP[activation.response.status]
    result = activation.response.result
    body: Any = result if result_only or isinstance(result, list) else activation.to_extended()
    return JSONResponse(body, status_code=status,
                        headers={"x-openwhisk-activation-id": activation.activation_id})


@router.post("/{rest:path}", summary="Invoke an action",
             openapi_extra=oa.extra("Payload", *oa.INVOKE))
async def invoke_action(ns: str, rest: str, request: Request, caller: Caller,
                        ctl: Ctl) -> Response:
    ns = namespace_of(caller, ns)
    fqn = split_name(ns, rest)
    q = request.query_params
    result_only = flag(q.get("result"), "result")
    blocking = flag(q.get("blocking"), "blocking") or result_only
    max_wait = ctl.settings.max_blocking_wait_ms
    try:
        wait_ms = wait_limit(request, max_wait)
    except BadRequest:
        raise BadRequest(Messages.TIMEOUT_RANGE.format(max=max_wait)) from None
    payload = await json_object(request, MAX_PAYLOAD_SIZE, "Payload")
    resolved = await ctl.activator.resolve(caller, fqn)
    ctl.activator.check_final(resolved, payload)
    ctl.throttles.check_invoke(caller, ctl.balancer.in_flight(caller.namespace))
    outcome = await ctl.activator.invoke(caller, resolved, payload, blocking=blocking,
                                         wait_ms=wait_ms)
    if outcome.activation is None:
        return JSONResponse({"activationId": outcome.activation_id}, status_code=202,
                            headers={"x-openwhisk-activation-id": outcome.activation_id})
    return activation_response(outcome.activation, result_only)
