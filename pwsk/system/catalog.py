"""Installing system packages into the whisks database, idempotently.

A package is declared as a ``PackageSpec`` (its annotations, parameters and actions, each
action's code read from a module shipped with pwsk). ``install`` makes the store match it:

* an entity that is missing is created at version ``0.0.1``;
* an entity whose content (code, kind, main, annotations, parameters, limits, publish)
  differs is rewritten with its patch version bumped, as a REST update would;
* an entity that already matches is left alone, so restarting pwsk changes nothing and the
  version numbers count real changes only.

``install`` writes documents directly, as ``wskadmin`` and OpenWhisk's catalog installer
would through the API; it must run before the controller serves requests, whose entity
cache would otherwise keep the previous revision of what it rewrites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pwsk import log
from pwsk.entities import Action, Entity, Exec, Package, now_ms
from pwsk.store import WHISKS, Json, Store

SYSTEM_NAMESPACE = "whisk.system"
logger = log.get("pwsk.system")


def kv_list(**values: Any) -> list[Json]:
    """``description="…", feed=True`` → ``[{"key": "description", "value": "…"}, …]``."""
    return [{"key": key, "value": value} for key, value in values.items()]


def source(package: str, module: str) -> str:
    """The text of ``module``.py inside the Python package ``package`` (package data)."""
    return resources.files(package).joinpath(f"{module}.py").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    code: str
    annotations: list[Json] = field(default_factory=list)
    parameters: list[Json] = field(default_factory=list)
    main: str = "main"
    kind: str = "python:3.11"


@dataclass(frozen=True, slots=True)
class PackageSpec:
    name: str
    actions: tuple[ActionSpec, ...]
    annotations: list[Json] = field(default_factory=list)
    parameters: list[Json] = field(default_factory=list)
    publish: bool = True


class CatalogError(Exception):
    """A system entity's name is taken by an entity of another type; nothing is overwritten."""


async def install(store: Store, spec: PackageSpec,
                  namespace: str = SYSTEM_NAMESPACE) -> list[str]:
    """Make ``/namespace/spec.name`` match ``spec``; returns the ids it created or changed."""
    package = Package(namespace, spec.name, publish=spec.publish,
                      annotations=list(spec.annotations), parameters=list(spec.parameters))
    changed = [doc_id for doc_id in [await _converge(store, package)] if doc_id]
    for action_spec in spec.actions:
        main = None if action_spec.main == "main" else action_spec.main
        action = Action(
            f"{namespace}/{spec.name}", action_spec.name, publish=False,
            annotations=[*action_spec.annotations,
                         {"key": "provide-api-key", "value": False},
                         {"key": "exec", "value": action_spec.kind}],
            exec=Exec(action_spec.kind, code=action_spec.code, binary=False, main=main),
            parameters=list(action_spec.parameters),
        )
        doc_id = await _converge(store, action)
        if doc_id:
            changed.append(doc_id)
    if changed:
        logger.info("system package installed", package=f"/{namespace}/{spec.name}",
                    changed=changed)
    return changed


async def parameter(store: Store, package: str, key: str,
                    namespace: str = SYSTEM_NAMESPACE) -> Any:
    """The current value of an installed package's parameter, or None."""
    doc = await store.get(WHISKS, f"{namespace}/{package}")
    for item in (doc or {}).get("parameters") or []:
        if item.get("key") == key:
            return item.get("value")
    return None


async def _converge(store: Store, entity: Entity) -> str | None:
    old = await store.get(WHISKS, entity.doc_id)
    entity.updated = now_ms()
    if old is not None:
        if old.get("entityType") != entity.entity_type:
            raise CatalogError(f"cannot install {entity.entity_type} /{entity.doc_id}: the "
                               f"name belongs to a {old.get('entityType')}")
        if _content(old) == _content(entity.to_doc()):
            return None
        entity.version = _bump(str(old.get("version", "0.0.0")))
        entity.rev = old["_rev"]
    await store.put(WHISKS, entity.to_doc())
    return entity.doc_id


def _content(doc: Json) -> Json:
    """What a version covers: everything but bookkeeping."""
    return {k: v for k, v in doc.items() if k not in ("_id", "_rev", "version", "updated")}


def _bump(version: str) -> str:
    parts = version.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"
    return "0.0.1"
