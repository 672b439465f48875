"""``/namespaces/{ns}/rules``: CRUD and enable/disable; status lives in the trigger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pwsk.entities import Action, Rule, Trigger
from pwsk.errors import BadRequest, Conflict, Messages, NotFound
from pwsk.messages import Identity
from pwsk.names import FQN, check_name

from .. import openapi as oa
from ..core import Controller
from ..deps import (
    Caller,
    Ctl,
    flag,
    json_object,
    list_own,
    namespace_of,
)
from ..entities import check_namespace

router = APIRouter(prefix="/api/v1/namespaces/{ns}/rules", tags=["rules"])


def _fqn(caller: Identity, ns: str, name: str) -> FQN:
    ns = namespace_of(caller, ns)
    check_namespace(caller, ns)
    return FQN(ns, check_name(name, "rule name"))


async def status_of(ctl: Controller, rule: Rule) -> str:
    trigger = await ctl.entities.get_optional(rule.trigger, Trigger)
    if trigger is None:
        return "inactive"
    link = trigger.rules.get(rule.doc_id)
    return str(link.get("status", "inactive")) if link else "inactive"


async def _set_link(ctl: Controller, rule: Rule, status: str | None) -> None:
    """Write (or with None remove) the rule's entry in its trigger, retrying on races."""
    for _ in range(5):
        trigger = await ctl.entities.get_optional(rule.trigger, Trigger)
        if trigger is None:
            return
        if status is None:
            if rule.doc_id not in trigger.rules:
                return
            trigger.rules.pop(rule.doc_id)
        else:
            trigger.rules[rule.doc_id] = {
                "action": {"path": rule.action.path, "name": rule.action.name},
                "status": status,
            }
        try:
            await ctl.entities.put(trigger)
            return
        except Conflict:
            ctl.entities.forget(trigger.doc_id)
    raise Conflict(Messages.CONCURRENT_MODIFICATION)


@router.get("", summary="List rules", openapi_extra=oa.extra(None, *oa.LIST))
async def list_rules(ns: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    return await list_own(request, caller, ns, ctl, "rule", "rules",
                          lambda d: Rule.from_doc(d).summary())


@router.get("/{name}", summary="Get a rule with its status")
async def get_rule(ns: str, name: str, caller: Caller, ctl: Ctl) -> Any:
    rule = await ctl.entities.get(_fqn(caller, ns, name), Rule)
    return rule.to_api(await status_of(ctl, rule))


@router.put("/{name}", summary="Create or update a rule",
            openapi_extra=oa.extra("RulePut", oa.OVERWRITE))
async def put_rule(ns: str, name: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    fqn = _fqn(caller, ns, name)
    body = await json_object(request)
    old = await ctl.entities.get_optional(fqn, Rule)
    if old is not None and not flag(request.query_params.get("overwrite"), "overwrite"):
        raise Conflict(Messages.EXISTS)
    rule = Rule.from_put(fqn, body, old, caller.namespace)
    try:
        trigger = await ctl.entities.get(rule.trigger, Trigger)
    except NotFound:
        raise BadRequest(f"trigger /{rule.trigger.doc_id} does not exist") from None
    check_namespace(caller, rule.trigger.namespace)
    if rule.action.package is None or rule.action.namespace == caller.namespace:
        try:
            await ctl.activator.resolve(caller, rule.action)
        except NotFound:
            raise BadRequest(f"action /{rule.action.doc_id} does not exist") from None
    else:
        await ctl.entities.get(rule.action, Action)
    status = "active"
    if old is not None:
        status = await status_of(ctl, old)
        if old.trigger != rule.trigger:
            await _set_link(ctl, old, None)
    await ctl.entities.put(rule)
    del trigger
    await _set_link(ctl, rule, status)
    return rule.to_api(status)


@router.post("/{name}", summary="Enable or disable a rule",
             openapi_extra=oa.extra("RuleState"))
async def set_state(ns: str, name: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    rule = await ctl.entities.get(_fqn(caller, ns, name), Rule)
    body = await json_object(request)
    status = body.get("status")
    if status not in ("active", "inactive"):
        raise BadRequest("The request content was malformed:\nstatus must be 'active' or "
                         "'inactive'.")
    if await ctl.entities.get_optional(rule.trigger, Trigger) is None:
        raise NotFound(Messages.RULE_NEEDS_TRIGGER)
    await _set_link(ctl, rule, status)
    return rule.to_api(status)


@router.delete("/{name}", summary="Delete a rule")
async def delete_rule(ns: str, name: str, caller: Caller, ctl: Ctl) -> Any:
    rule = await ctl.entities.get(_fqn(caller, ns, name), Rule)
    status = await status_of(ctl, rule)
    await _set_link(ctl, rule, None)
    await ctl.entities.delete(rule)
    return rule.to_api(status)
