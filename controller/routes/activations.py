"""``/namespaces/{ns}/activations``: list with filters, get, logs, result."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from pwsk.activation import Activation
from pwsk.errors import BadRequest, NotFound
from pwsk.messages import Identity
from pwsk.names import parse_fqn
from pwsk.store import ACTIVATIONS, ActivationQuery

from .. import openapi as oa
from ..core import Controller
from ..deps import Caller, Ctl, flag, int_param, list_window, namespace_of
from ..entities import check_namespace

router = APIRouter(prefix="/api/v1/namespaces/{ns}/activations", tags=["activations"])
_ID = re.compile(r"\A[0-9a-fA-F]{32}\Z")


def summary(act: Activation) -> dict[str, Any]:
    """What a list without ``docs`` shows: the record without logs and result."""
    out = act.to_extended()
    out.pop("logs", None)
    resp = out.pop("response")
    out["statusCode"] = int(act.response.status)
    out["status"] = resp["status"]
    return out


@router.get("", summary="List activations, newest first",
            openapi_extra=oa.extra(None, *oa.ACTIVATION_LIST))
async def list_activations(ns: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    ns = namespace_of(caller, ns)
    check_namespace(caller, ns)
    skip, limit, count = list_window(request, "activations")
    q = request.query_params
    docs = flag(q.get("docs"), "docs")
    if count and docs:
        raise BadRequest("The request content was malformed: 'count' and 'docs' cannot be "
                         "combined.")
    name = q.get("name") or None
    if name is not None:
        name = parse_fqn(name).relative
    since = int_param(q.get("since"), "since", -1, 0)
    upto = int_param(q.get("upto"), "upto", -1, 0)
    query = ActivationQuery(ns, name, since if since >= 0 else None,
                            upto if upto >= 0 else None, skip, limit)
    if count:
        return {"activations": await ctl.store.count_activations(query)}
    acts = [Activation.from_doc(d) for d in await ctl.store.list_activations(query)]
    return [a.to_extended() if docs else summary(a) for a in acts]


async def load(ctl: Controller, caller: Identity, ns: str, activation_id: str) -> Activation:
    ns = namespace_of(caller, ns)
    check_namespace(caller, ns)
    if not _ID.match(activation_id):
        raise BadRequest("The activation id is not valid: it must be 32 hexadecimal "
                         "characters.")
    doc = await ctl.store.get(ACTIVATIONS, f"{ns}/{activation_id.lower()}")
    if doc is not None:
        return Activation.from_doc(doc)
    # The invoker may still be writing a record its ack already delivered.
    recent = ctl.balancer.recent.get(activation_id.lower())
    if recent is not None and recent.namespace == ns:
        return recent
    raise NotFound()


@router.get("/{activation_id}", summary="Get an activation record")
async def get_activation(ns: str, activation_id: str, caller: Caller, ctl: Ctl) -> Any:
    return (await load(ctl, caller, ns, activation_id)).to_extended()


@router.get("/{activation_id}/result", summary="An activation's result")
async def get_result(ns: str, activation_id: str, caller: Caller, ctl: Ctl) -> Any:
    return (await load(ctl, caller, ns, activation_id)).response.to_extended()


@router.get("/{activation_id}/logs", summary="An activation's logs")
async def get_logs(ns: str, activation_id: str, caller: Caller, ctl: Ctl) -> Any:
    return {"logs": (await load(ctl, caller, ns, activation_id)).logs}
