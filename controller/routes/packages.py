"""``/namespaces/{ns}/packages``: packages, bindings and shared packages (spec §2.4)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pwsk.entities import Action, Package, kv_merge
from pwsk.errors import BadRequest, Conflict, Messages, NotFound
from pwsk.limits import LIST_LIMIT_MAX
from pwsk.messages import Identity
from pwsk.names import FQN, check_name
from pwsk.redact import redact_doc, settle
from pwsk.store import EntityQuery

from .. import openapi as oa
from ..core import Controller
from ..deps import (
    Caller,
    Ctl,
    entity_body_limits,
    flag,
    json_object,
    list_window,
    namespace_of,
)
from ..entities import check_namespace, readable_package

router = APIRouter(prefix="/api/v1/namespaces/{ns}/packages", tags=["packages"])


@router.get("", summary="List packages (another namespace: only its public ones)",
            openapi_extra=oa.extra(None, oa._query("public", "boolean", "only public ones"),
                                   *oa.LIST))
async def list_packages(ns: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    ns = namespace_of(caller, ns)
    skip, limit, count = list_window(request, "packages")
    public_only = ns != caller.namespace or flag(request.query_params.get("public"), "public")
    query = EntityQuery("package", ns, False, 0 if public_only else skip,
                        LIST_LIMIT_MAX * 50 if public_only else limit)
    if count and not public_only:
        return {"packages": await ctl.store.count_entities(query)}
    pkgs = [Package.from_doc(d) for d in await ctl.store.list_entities(query)]
    if public_only:
        pkgs = [p for p in pkgs if p.publish and p.binding is None][skip:skip + limit]
    if count:
        return {"packages": len(pkgs)}
    return [p.summary() for p in pkgs]


def _fqn(caller: Identity, ns: str, name: str) -> FQN:
    return FQN(namespace_of(caller, ns), check_name(name, "package name"))


async def _contents(ctl: Controller, pkg: Package) -> list[Action]:
    query = EntityQuery("action", f"{pkg.namespace}/{pkg.name}", True, 0, 10_000)
    return [Action.from_doc(d) for d in await ctl.store.list_entities(query)]


@router.get("/{name}", summary="Get a package with its actions and feeds")
async def get_package(ns: str, name: str, caller: Caller, ctl: Ctl) -> Any:
    pkg = await readable_package(ctl.entities, caller, _fqn(caller, ns, name))
    out = pkg.to_api()
    source = pkg
    if pkg.binding is not None:
        bound = await ctl.entities.get_optional(pkg.binding, Package)
        if bound is not None:
            source = bound
            out["parameters"] = kv_merge(bound.parameters, pkg.parameters)
    out = redact_doc(out)
    actions = await _contents(ctl, source) if source.binding is None else []
    out["actions"] = [{"name": a.name, "version": a.version, "annotations": a.annotations}
                      for a in actions if a.annotation("feed") is None]
    out["feeds"] = [{"name": a.name, "version": a.version, "annotations": a.annotations}
                    for a in actions if a.annotation("feed") is not None]
    return out


@router.put("/{name}", summary="Create or update a package or binding",
            openapi_extra=oa.extra("PackagePut", oa.OVERWRITE))
async def put_package(ns: str, name: str, request: Request, caller: Caller, ctl: Ctl) -> Any:
    fqn = _fqn(caller, ns, name)
    check_namespace(caller, fqn.namespace)
    body = await json_object(request)
    entity_body_limits(body)
    old = await ctl.entities.get_optional(fqn, Package)
    if old is not None and not flag(request.query_params.get("overwrite"), "overwrite"):
        raise Conflict(Messages.EXISTS)
    pkg = Package.from_put(fqn, body, old, caller.namespace)
    if pkg.binding is not None:
        if old is not None and old.binding is None:
            raise Conflict(Messages.PACKAGE_TO_BINDING)
        try:
            bound = await readable_package(ctl.entities, caller, pkg.binding)
        except NotFound:
            raise BadRequest(Messages.BINDING_MISSING) from None
        if bound.binding is not None:
            raise BadRequest(Messages.BIND_TO_BINDING)
        pkg.parameters = settle(pkg.parameters, bound.parameters)
    else:
        pkg.parameters = settle(pkg.parameters, [])
    await ctl.entities.put(pkg)
    return redact_doc(pkg.to_api())


@router.delete("/{name}", summary="Delete a package (force: with its contents)",
               openapi_extra=oa.extra(None, oa._query("force", "boolean",
                                                      "delete the contents too")))
async def delete_package(ns: str, name: str, request: Request, caller: Caller,
                         ctl: Ctl) -> Any:
    fqn = _fqn(caller, ns, name)
    check_namespace(caller, fqn.namespace)
    pkg = await ctl.entities.get(fqn, Package)
    if pkg.binding is None:
        contents = await _contents(ctl, pkg)
        if contents and not flag(request.query_params.get("force"), "force"):
            raise Conflict(f"Package not empty (contains {len(contents)} entities). Set force "
                           "param or delete package contents.")
        for action in contents:
            await ctl.entities.delete(action)
    await ctl.entities.delete(pkg)
    return redact_doc(pkg.to_api())
