"""``/namespaces/{ns}/triggers``: CRUD and fire (spec §5.1)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from pwsk import log, tid
from pwsk.activation import Activation
from pwsk.activation import Response as ActResponse
from pwsk.entities import Trigger, params_dict
from pwsk.errors import Conflict, Messages, PwskError, ServiceUnavailable
from pwsk.limits import MAX_PAYLOAD_SIZE
from pwsk.messages import Identity
from pwsk.names import FQN, check_name
from pwsk.redact import mark_secret, redact_doc, secret_keys

from .. import openapi as oa
from ..core import Controller
from ..deps import (
    Caller,
    Ctl,
    entity_body_limits,
    flag,
    json_object,
    list_own,
    namespace_of,
)
from ..entities import check_namespace
from ..invoke import now_ms
from ..throttle import TooManyConcurrent

router = APIRouter(prefix="/api/v1/namespaces/{ns}/triggers", tags=["triggers"])
logger = log.get("pwsk.controller.triggers")
_tasks: set[asyncio.Task[None]] = set()
# A rule's activation refused with 503 (no invoker usable at the moment: under load their
# health flaps for a fraction of a second; or the bus briefly away) or with the namespace's
# concurrency 429 (a slot frees as soon as an activation ends) is tried again for this long
# before the trigger activation logs it as failed: a reading fired once must not be lost to
# a burst. OpenWhisk drops both at once. The per-minute rate 429 is not retried.
RULE_RETRY_S = 20.0
RULE_RETRY_FIRST_S = 0.1


@router.get("", summary="List triggers", openapi_extra=oa.extra(None, *oa.LIST))
async def list_triggers(ns: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    return await list_own(request, caller, ns, ctl, "trigger", "triggers",
                          lambda d: Trigger.from_doc(d).summary())


def _fqn(caller: Identity, ns: str, name: str) -> FQN:
    ns = namespace_of(caller, ns)
    check_namespace(caller, ns)
    return FQN(ns, check_name(name, "trigger name"))


@router.get("/{name}", summary="Get a trigger")
async def get_trigger(ns: str, name: str, caller: Caller, ctl: Ctl) -> Any:
    return redact_doc((await ctl.entities.get(_fqn(caller, ns, name), Trigger)).to_api())


@router.put("/{name}", summary="Create or update a trigger",
            openapi_extra=oa.extra("TriggerPut", oa.OVERWRITE))
async def put_trigger(ns: str, name: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    fqn = _fqn(caller, ns, name)
    body = await json_object(request)
    entity_body_limits(body)
    old = await ctl.entities.get_optional(fqn, Trigger)
    if old is not None and not flag(request.query_params.get("overwrite"), "overwrite"):
        raise Conflict(Messages.EXISTS)
    trigger = Trigger.from_put(fqn, body, old)
    await ctl.entities.put(trigger)
    return redact_doc(trigger.to_api())


@router.delete("/{name}", summary="Delete a trigger")
async def delete_trigger(ns: str, name: str, caller: Caller, ctl: Ctl) -> Any:
    trigger = await ctl.entities.get(_fqn(caller, ns, name), Trigger)
    await ctl.entities.delete(trigger)
    return redact_doc(trigger.to_api())


@router.post("/{name}", summary="Fire a trigger", openapi_extra=oa.extra("Payload"))
async def fire_trigger(ns: str, name: str, request: Request, caller: Caller,
                       ctl: Ctl) -> Response:
    trigger = await ctl.entities.get(_fqn(caller, ns, name), Trigger)
    payload = await json_object(request, MAX_PAYLOAD_SIZE, "Payload")
    active = {rid: r for rid, r in trigger.rules.items() if r.get("status") == "active"}
    if not active:
        return Response(status_code=204)
    ctl.throttles.check_fire(caller)
    ctl.balancer.check_available()  # bus down: 503 now, not a 202 whose rules all fail
    activation = Activation(
        namespace=caller.namespace, name=trigger.name, subject=caller.subject,
        activation_id=tid.activation_id(), start=now_ms(), end=0,
        response=ActResponse.success(payload), version=trigger.version,
    )
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"}
    args = {**params_dict(trigger.parameters), "__ow_headers": headers, **payload}
    task = asyncio.create_task(fire_rules(ctl, caller, activation, active, args,
                                          secret_keys(trigger.parameters)))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return JSONResponse({"activationId": activation.activation_id}, status_code=202,
                        headers={"x-openwhisk-activation-id": activation.activation_id})


async def fire_rules(ctl: Controller, caller: Identity, activation: Activation,
                     rules: dict[str, Any], args: dict[str, Any],
                     secret: list[str] | None = None) -> None:
    """Invoke each active rule's action (non-blocking) and log one line per rule;
    ``secret``: keys of the trigger's secret parameters (masked in the rules' activations
    like the action's own secrets)."""
    async def one(rule_id: str, rule: dict[str, Any]) -> str:
        action = FQN.from_path(rule["action"]["path"], rule["action"]["name"])
        line: dict[str, Any] = {"rule": rule_id, "action": action.doc_id}
        deadline, delay = time.monotonic() + RULE_RETRY_S, RULE_RETRY_FIRST_S
        try:
            while True:
                try:
                    resolved = await ctl.activator.resolve(caller, action)
                    if secret:
                        resolved = replace(resolved, params=mark_secret(resolved.params,
                                                                        secret, args))
                    ctl.throttles.check_invoke(caller,
                                               ctl.balancer.in_flight(caller.namespace))
                    outcome = await ctl.activator.invoke(caller, resolved, dict(args),
                                                         blocking=False, wait_ms=0, cause=None)
                    break
                except (ServiceUnavailable, TooManyConcurrent):
                    if time.monotonic() + delay > deadline:
                        raise
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            line = {"statusCode": 0, "success": True, "activationId": outcome.activation_id,
                    **line}
        except PwskError as exc:
            code = 3 if exc.status >= 500 else 1
            line = {"statusCode": code, "success": False, "error": exc.message, **line}
        except Exception as exc:  # one rule failing must not stop the others
            logger.exception("rule activation failed", rule=rule_id)
            line = {"statusCode": 3, "success": False, "error": repr(exc), **line}
        return orjson.dumps(line).decode()

    activation.logs = list(await asyncio.gather(*(one(r, v) for r, v in rules.items())))
    await ctl.activator.record(activation)
