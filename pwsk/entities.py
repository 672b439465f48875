"""OpenWhisk entities (actions, triggers, rules, packages) and the runtime manifest.

Each entity is a dataclass with explicit (de)serialisation:

* ``from_put(body, ...)`` validates a REST PUT body and builds the entity (400s here);
* ``to_doc()`` / ``from_doc()`` convert to and from the stored document, which is the REST
  JSON plus CouchDB-style ``_id`` (``ns[/pkg]/name``), ``_rev`` and ``entityType``;
* ``to_api()`` gives the JSON that GET returns; ``summary()`` what lists return.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from .errors import BadRequest, Messages
from .limits import DEFAULT_BOUNDS, MAX_CODE_SIZE, ActionBounds, ActionLimits
from .names import FQN, check_name, parse_fqn
from .redact import restore

Json = dict[str, Any]

# --- runtime manifest -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Runtime:
    kind: str
    image: str
    default: bool = False
    deprecated: bool = False
    require_main: bool = False

    @property
    def family(self) -> str:
        return self.kind.split(":", 1)[0]

    def to_json(self) -> Json:
        return {
            "kind": self.kind,
            "image": self.image,
            "deprecated": self.deprecated,
            "default": self.default,
            "attached": False,
            "requireMain": self.require_main,
        }


RUNTIMES: tuple[Runtime, ...] = (
    Runtime("python:3.11", "pwsk/action-python:3.11", default=True),
    Runtime("nodejs:20", "pwsk/action-nodejs:20", default=True),
)
BLACKBOX = "blackbox"
SEQUENCE = "sequence"
# Images that run pwsk's own native-exec proxy: no pull, sentinelled logs (spec 4.6).
SKELETON_IMAGES = ("openwhisk/dockerskeleton", "pwsk/dockerskeleton")
SKELETON_IMAGE = "pwsk/dockerskeleton"


def runtime_families() -> Json:
    fams: dict[str, list[Json]] = {}
    for rt in RUNTIMES:
        fams.setdefault(rt.family, []).append(rt.to_json())
    return fams


def resolve_kind(kind: str) -> str:
    """Map ``family:default`` to the default kind; reject unknown kinds with OpenWhisk's 400."""
    for rt in RUNTIMES:
        if kind == rt.kind or (kind == f"{rt.family}:default" and rt.default):
            return rt.kind
    if kind in (BLACKBOX, SEQUENCE):
        return kind
    valid = ", ".join([rt.kind for rt in RUNTIMES] + [f"{f}:default" for f in runtime_families()])
    raise BadRequest(
        f"The specified runtime '{kind}' is not supported by this platform. "
        f"Valid values are: {valid}."
    )


def is_skeleton(image: str | None) -> bool:
    if not image:
        return False
    base = image.rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    return base in SKELETON_IMAGES


_BASE64 = re.compile(r"\A[A-Za-z0-9+/]*={0,2}\Z")


def looks_binary(code: str) -> bool:
    """OpenWhisk's rule: non-empty, length divisible by 4, base64 alphabet."""
    return bool(code) and len(code) % 4 == 0 and bool(_BASE64.match(code))


# --- parameters and annotations -----------------------------------------------------------


def check_kv_list(value: Any, what: str) -> list[Json]:
    """Validate ``[{key, value[, init][, secret]}]``; returns a clean copy."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"The request content was malformed: {what} must be an array.")
    out: list[Json] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise BadRequest(
                f"The request content was malformed: each of {what} must be an object "
                "with a string 'key'."
            )
        entry: Json = {"key": item["key"], "value": item.get("value")}
        if what == "parameters" and item.get("init") is True:
            entry["init"] = True
        if what == "parameters" and item.get("secret") is not None:
            if not isinstance(item["secret"], bool):
                raise BadRequest("The request content was malformed: a parameter's 'secret' "
                                 "must be a boolean.")
            if item["secret"]:
                entry["secret"] = True
        out.append(entry)
    return out


def kv_get(items: list[Json], key: str, default: Any = None) -> Any:
    for item in items:
        if item.get("key") == key:
            return item.get("value")
    return default


def kv_merge(old: list[Json], new: list[Json]) -> list[Json]:
    """Entries of ``new`` replace same-key entries of ``old``; order: old first."""
    keys = {n["key"] for n in new}
    return [o for o in old if o["key"] not in keys] + new


def kv_set(items: list[Json], key: str, value: Any) -> list[Json]:
    return kv_merge(items, [{"key": key, "value": value}])


def params_dict(items: list[Json]) -> Json:
    return {i["key"]: i.get("value") for i in items}


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "yes"))


def _bump(version: str) -> str:
    parts = version.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"
    return "0.0.1"


def _check_version(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d+\.\d+\.\d+", value):
        raise BadRequest("The request content was malformed: version must be like '0.0.1'.")
    return value


def _check_bool(value: Any, what: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise BadRequest(f"The request content was malformed: {what} must be a boolean.")
    return value


def now_ms() -> int:
    return int(time.time() * 1000)


# --- entities -----------------------------------------------------------------------------


@dataclass(slots=True)
class Entity:
    """Fields every entity has. ``namespace`` is the path: ``ns`` or ``ns/pkg``."""

    entity_type: ClassVar[str] = ""
    namespace: str
    name: str
    version: str = "0.0.1"
    publish: bool = False
    annotations: list[Json] = field(default_factory=list)
    updated: int = 0
    rev: str | None = None

    @property
    def fqn(self) -> FQN:
        return FQN.from_path(self.namespace, self.name)

    @property
    def doc_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def annotation(self, key: str, default: Any = None) -> Any:
        return kv_get(self.annotations, key, default)

    def common_api(self) -> Json:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "updated": self.updated,
        }

    def to_api(self) -> Json:
        raise NotImplementedError

    def summary(self) -> Json:
        return self.common_api()

    def to_doc(self) -> Json:
        doc = self.to_api()
        doc["_id"] = self.doc_id
        doc["entityType"] = self.entity_type
        if self.rev:
            doc["_rev"] = self.rev
        return doc

    def _apply_common(self, body: Json, old: Entity | None) -> None:
        version = _check_version(body.get("version"))
        self.version = version or (_bump(old.version) if old else "0.0.1")
        publish = _check_bool(body.get("publish"), "publish")
        self.publish = publish if publish is not None else (old.publish if old else False)
        annos = body.get("annotations")
        if annos is None:
            self.annotations = list(old.annotations) if old else []
        else:
            new = check_kv_list(annos, "annotations")
            self.annotations = kv_merge(old.annotations, new) if old else new
        self.updated = now_ms()
        self.rev = old.rev if old else None


@dataclass(slots=True)
class Exec:
    kind: str
    code: str | None = None
    binary: bool = False
    main: str | None = None
    image: str | None = None
    components: list[str] | None = None

    @property
    def is_sequence(self) -> bool:
        return self.kind == SEQUENCE

    def to_api(self, include_code: bool = True) -> Json:
        out: Json = {"kind": self.kind}
        if self.kind == SEQUENCE:
            out["components"] = list(self.components or [])
            return out
        if self.image is not None:
            out["image"] = self.image
        if include_code and self.code is not None:
            out["code"] = self.code
        if self.main is not None:
            out["main"] = self.main
        out["binary"] = self.binary
        return out

    @classmethod
    def from_json(cls, data: Any, namespace: str) -> Exec:
        if not isinstance(data, dict):
            raise BadRequest("The request content was malformed: exec must be an object.")
        kind = data.get("kind")
        if not isinstance(kind, str) or not kind:
            raise BadRequest("The request content was malformed: exec.kind is required.")
        kind = resolve_kind(kind)
        if kind == SEQUENCE:
            comps = data.get("components")
            if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
                raise BadRequest(Messages.SEQ_EMPTY)
            if not comps:
                raise BadRequest(Messages.SEQ_EMPTY)
            return cls(kind, components=[str(parse_fqn(c).resolve(namespace)) for c in comps])
        code = data.get("code")
        if code is not None and not isinstance(code, str):
            raise BadRequest("The request content was malformed: exec.code must be a string.")
        if code is not None and len(code) > MAX_CODE_SIZE:
            raise PayloadTooLargeCode(len(code))
        main = data.get("main")
        if main is not None and (not isinstance(main, str) or not main.strip()):
            raise BadRequest("The request content was malformed: exec.main must be a string.")
        image = data.get("image")
        if kind == BLACKBOX:
            if not isinstance(image, str) or not image:
                raise BadRequest("The request content was malformed: blackbox needs an image.")
        elif code is None or code == "":
            raise BadRequest(
                "The request content was malformed: exec.code is required for kind " + kind + "."
            )
        binary = looks_binary(code) if code else False
        if binary and code:
            try:
                base64.b64decode(code, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BadRequest("The request content was malformed: bad base64 code.") from exc
        return cls(kind, code=code, binary=binary, main=main, image=image)


class PayloadTooLargeCode(BadRequest):
    status = 413

    def __init__(self, size: int) -> None:
        super().__init__(
            f"The request content was malformed: the code size {size} B exceeds the "
            f"allowed threshold of {MAX_CODE_SIZE} B."
        )


@dataclass(slots=True)
class Action(Entity):
    entity_type: ClassVar[str] = "action"
    exec: Exec = field(default_factory=lambda: Exec("python:3.11"))
    parameters: list[Json] = field(default_factory=list)
    limits: ActionLimits = field(default_factory=ActionLimits)

    def to_api(self, include_code: bool = True) -> Json:
        out = self.common_api()
        out["parameters"] = self.parameters
        out["limits"] = self.limits.to_json()
        out["exec"] = self.exec.to_api(include_code)
        return out

    def summary(self) -> Json:
        out = self.common_api()
        out["limits"] = self.limits.to_json()
        out["exec"] = {"binary": self.exec.binary}
        return out

    @property
    def web_export(self) -> bool:
        return truthy(self.annotation("web-export"))

    @classmethod
    def from_doc(cls, doc: Json) -> Action:
        ex = doc.get("exec") or {}
        limits = doc.get("limits") or {}
        return cls(
            namespace=doc["namespace"],
            name=doc["name"],
            version=doc.get("version", "0.0.1"),
            publish=doc.get("publish", False),
            annotations=doc.get("annotations") or [],
            updated=doc.get("updated", 0),
            rev=doc.get("_rev"),
            exec=Exec(
                kind=ex.get("kind", ""),
                code=ex.get("code"),
                binary=ex.get("binary", False),
                main=ex.get("main"),
                image=ex.get("image"),
                components=ex.get("components"),
            ),
            parameters=doc.get("parameters") or [],
            limits=ActionLimits(
                timeout=limits.get("timeout", 60_000),
                memory=limits.get("memory", 256),
                logs=limits.get("logs", 10),
                concurrency=limits.get("concurrency", 1),
            ),
        )

    @classmethod
    def from_put(
        cls, fqn: FQN, body: Json, old: Action | None, bounds: ActionBounds = DEFAULT_BOUNDS
    ) -> Action:
        check_name(fqn.name, "action name")
        if "exec" in body and body["exec"] is not None:
            ex = Exec.from_json(body["exec"], fqn.namespace)
        elif old is not None:
            ex = old.exec
        else:
            raise BadRequest("The request content was malformed: exec is required.")
        params = body.get("parameters")
        if ex.is_sequence:
            # Sequences keep only the legacy ``_actions`` parameter (spec 2.1).
            parameters = [{"key": "_actions", "value": list(ex.components or [])}]
        elif params is None:
            parameters = list(old.parameters) if old else []
        else:
            parameters = restore(check_kv_list(params, "parameters"),
                                 old.parameters if old else None)
        limits = ActionLimits.from_json(body.get("limits"), old.limits if old else None, bounds)
        action = cls(fqn.path, fqn.name, exec=ex, parameters=parameters, limits=limits)
        action._apply_common(body, old)
        dels = body.get("delAnnotations")
        if dels is not None:
            if not isinstance(dels, list) or not all(isinstance(d, str) for d in dels):
                raise BadRequest(
                    "The request content was malformed: delAnnotations must be strings."
                )
            action.annotations = [a for a in action.annotations if a["key"] not in dels]
        if old is None and kv_get(action.annotations, "provide-api-key") is None:
            action.annotations.append({"key": "provide-api-key", "value": False})
        action.annotations = kv_set(action.annotations, "exec", ex.kind)
        return action


@dataclass(slots=True)
class Trigger(Entity):
    entity_type: ClassVar[str] = "trigger"
    parameters: list[Json] = field(default_factory=list)
    # rule doc id ("ns/rule") -> {"action": {"path", "name"}, "status": "active"|"inactive"}
    rules: dict[str, Json] = field(default_factory=dict)

    def to_api(self) -> Json:
        out = self.common_api()
        out["parameters"] = self.parameters
        out["limits"] = {}
        if self.rules:
            out["rules"] = self.rules
        return out

    @classmethod
    def from_doc(cls, doc: Json) -> Trigger:
        return cls(
            namespace=doc["namespace"],
            name=doc["name"],
            version=doc.get("version", "0.0.1"),
            publish=doc.get("publish", False),
            annotations=doc.get("annotations") or [],
            updated=doc.get("updated", 0),
            rev=doc.get("_rev"),
            parameters=doc.get("parameters") or [],
            rules=doc.get("rules") or {},
        )

    @classmethod
    def from_put(cls, fqn: FQN, body: Json, old: Trigger | None) -> Trigger:
        check_name(fqn.name, "trigger name")
        params = body.get("parameters")
        parameters = (
            restore(check_kv_list(params, "parameters"), old.parameters if old else None)
            if params is not None else (list(old.parameters) if old else [])
        )
        trigger = cls(fqn.path, fqn.name, parameters=parameters,
                      rules=dict(old.rules) if old else {})
        trigger._apply_common(body, old)
        feed = trigger.annotation("feed")
        if feed is not None:
            if not isinstance(feed, str):
                raise BadRequest("Feed name is not valid")
            try:
                parse_fqn(feed)
            except BadRequest as exc:
                raise BadRequest("Feed name is not valid") from exc
        return trigger


@dataclass(slots=True)
class Rule(Entity):
    entity_type: ClassVar[str] = "rule"
    trigger: FQN = field(default_factory=lambda: FQN("_", "_"))
    action: FQN = field(default_factory=lambda: FQN("_", "_"))

    def to_api(self, status: str | None = None) -> Json:
        out = self.common_api()
        out["trigger"] = {"path": self.trigger.path, "name": self.trigger.name}
        out["action"] = {"path": self.action.path, "name": self.action.name}
        if status is not None:
            out["status"] = status
        return out

    def to_doc(self) -> Json:
        doc = self.to_api()
        doc["_id"] = self.doc_id
        doc["entityType"] = self.entity_type
        if self.rev:
            doc["_rev"] = self.rev
        return doc

    @classmethod
    def from_doc(cls, doc: Json) -> Rule:
        t, a = doc["trigger"], doc["action"]
        return cls(
            namespace=doc["namespace"],
            name=doc["name"],
            version=doc.get("version", "0.0.1"),
            publish=doc.get("publish", False),
            annotations=doc.get("annotations") or [],
            updated=doc.get("updated", 0),
            rev=doc.get("_rev"),
            trigger=FQN.from_path(t["path"], t["name"]),
            action=FQN.from_path(a["path"], a["name"]),
        )

    @classmethod
    def from_put(cls, fqn: FQN, body: Json, old: Rule | None, namespace: str) -> Rule:
        check_name(fqn.name, "rule name")

        def ref(key: str) -> FQN:
            value = body.get(key)
            if value is None and old is not None:
                return old.trigger if key == "trigger" else old.action
            if isinstance(value, dict) and "name" in value:
                value = f"/{value.get('path', '_')}/{value['name']}"
            if not isinstance(value, str):
                raise BadRequest(f"The request content was malformed: rule needs a {key}.")
            return parse_fqn(value).resolve(namespace)

        rule = cls(fqn.path, fqn.name, trigger=ref("trigger"), action=ref("action"))
        rule._apply_common(body, old)
        return rule


@dataclass(slots=True)
class Package(Entity):
    entity_type: ClassVar[str] = "package"
    parameters: list[Json] = field(default_factory=list)
    binding: FQN | None = None  # FQN(namespace, name) of the bound package

    @property
    def is_binding(self) -> bool:
        return self.binding is not None

    def binding_json(self) -> Json:
        if self.binding is None:
            return {}
        return {"namespace": self.binding.namespace, "name": self.binding.name}

    def to_api(self) -> Json:
        out = self.common_api()
        out["parameters"] = self.parameters
        out["binding"] = self.binding_json()
        return out

    def summary(self) -> Json:
        out = self.common_api()
        out["binding"] = self.binding_json() or False
        return out

    @classmethod
    def from_doc(cls, doc: Json) -> Package:
        b = doc.get("binding") or {}
        return cls(
            namespace=doc["namespace"],
            name=doc["name"],
            version=doc.get("version", "0.0.1"),
            publish=doc.get("publish", False),
            annotations=doc.get("annotations") or [],
            updated=doc.get("updated", 0),
            rev=doc.get("_rev"),
            parameters=doc.get("parameters") or [],
            binding=FQN(b["namespace"], b["name"]) if b.get("name") else None,
        )

    @classmethod
    def from_put(cls, fqn: FQN, body: Json, old: Package | None, namespace: str) -> Package:
        check_name(fqn.name, "package name")
        if fqn.name == "default":
            raise BadRequest(Messages.DEFAULT_PACKAGE_RESERVED)
        params = body.get("parameters")
        parameters = (
            # strict=False: the route settles markers once it knows the bound package
            restore(check_kv_list(params, "parameters"), old.parameters if old else None,
                    strict=False)
            if params is not None else (list(old.parameters) if old else [])
        )
        binding = old.binding if old else None
        raw = body.get("binding")
        if isinstance(raw, dict) and raw.get("name"):
            ns, name = raw.get("namespace") or "_", raw["name"]
            if not isinstance(ns, str) or not isinstance(name, str):
                raise BadRequest("The request content was malformed: bad binding.")
            check_name(name, "package name")
            binding = FQN(namespace if ns == "_" else ns, name)
        elif raw is not None and not isinstance(raw, dict):
            raise BadRequest("The request content was malformed: binding must be an object.")
        pkg = cls(fqn.path, fqn.name, parameters=parameters, binding=binding)
        pkg._apply_common(body, old)
        if binding is not None:
            pkg.annotations = kv_set(pkg.annotations, "binding", pkg.binding_json())
        return pkg


ENTITY_CLASSES: dict[str, type[Entity]] = {
    "action": Action, "trigger": Trigger, "rule": Rule, "package": Package,
}


def entity_from_doc(doc: Json) -> Entity:
    cls = ENTITY_CLASSES[doc["entityType"]]
    return cls.from_doc(doc)  # type: ignore[attr-defined, no-any-return]


def with_rev(entity: Any, rev: str) -> Any:
    return replace(entity, rev=rev)
