"""Every message that crosses the bus (spec §6.2), one versioned schema each.

``ActivationMessage`` goes controller → ``invoker{N}``; acks go invoker → ``completed{C}``;
``PingMessage`` goes invoker → ``health``. Each has ``to_bytes``/``from_bytes`` and a ``v``
field; a reader rejects versions it does not know instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .activation import Activation

Json = dict[str, Any]
VERSION = 1


class MessageError(ValueError):
    """A message that cannot be decoded; the consumer logs it and moves on."""


def _load(raw: bytes) -> Json:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MessageError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MessageError("not an object")
    if data.get("v", VERSION) != VERSION:
        raise MessageError(f"unknown message version {data.get('v')!r}")
    return data


@dataclass(slots=True)
class Identity:
    """Who is calling: subject, namespace, uuid and key (the key rides to provide api_key)."""

    subject: str
    namespace: str
    uuid: str
    key: str
    limits: Json = field(default_factory=dict)

    @property
    def api_key(self) -> str:
        return f"{self.uuid}:{self.key}"

    def to_json(self) -> Json:
        return {"subject": self.subject, "namespace": {"name": self.namespace, "uuid": self.uuid},
                "authkey": {"api_key": self.api_key}, "limits": self.limits}

    @classmethod
    def from_json(cls, data: Json) -> Identity:
        uuid, _, key = data["authkey"]["api_key"].partition(":")
        return cls(data["subject"], data["namespace"]["name"], uuid, key, data.get("limits") or {})


@dataclass(slots=True)
class ActivationMessage:
    transid: str
    start: int  # controller receipt, epoch ms: waitTime is measured from here
    action_path: str  # ns[/pkg]
    action_name: str
    action_version: str
    revision: str
    user: Identity
    activation_id: str
    controller: int
    blocking: bool
    content: Json
    init_args: list[str] = field(default_factory=list)
    cause: str | None = None
    binding: str | None = None  # ns/bindingpkg when invoked through a binding
    caused_by: str | None = None  # "sequence" for components
    secret_args: list[str] = field(default_factory=list)  # masked in logs and result

    def to_bytes(self) -> bytes:
        action: Json = {"path": self.action_path, "name": self.action_name,
                        "version": self.action_version}
        if self.binding:
            action["binding"] = self.binding
        out: Json = {
            "v": VERSION,
            "transid": [self.transid, self.start],
            "action": action,
            "revision": self.revision,
            "user": self.user.to_json(),
            "activationId": self.activation_id,
            "rootControllerIndex": {"asString": str(self.controller),
                                    "instanceType": "controller"},
            "blocking": self.blocking,
            "content": self.content,
            "initArgs": self.init_args,
        }
        if self.cause:
            out["cause"] = self.cause
        if self.caused_by:
            out["causedBy"] = self.caused_by
        if self.secret_args:
            out["secretArgs"] = self.secret_args
        return orjson.dumps(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> ActivationMessage:
        d = _load(raw)
        try:
            return cls(
                transid=d["transid"][0],
                start=int(d["transid"][1]),
                action_path=d["action"]["path"],
                action_name=d["action"]["name"],
                action_version=d["action"].get("version", "0.0.1"),
                revision=d.get("revision") or "",
                user=Identity.from_json(d["user"]),
                activation_id=d["activationId"],
                controller=int(d["rootControllerIndex"]["asString"]),
                blocking=bool(d.get("blocking")),
                content=d.get("content") or {},
                init_args=list(d.get("initArgs") or []),
                cause=d.get("cause"),
                binding=d["action"].get("binding"),
                caused_by=d.get("causedBy"),
                secret_args=list(d.get("secretArgs") or []),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise MessageError(f"bad activation message: {exc!r}") from exc


@dataclass(slots=True)
class Ack:
    """``combined`` (result + slot release), ``result`` (result only) or ``completion``."""

    kind: str
    transid: str
    activation_id: str
    invoker: int
    activation: Activation | None = None
    is_system_error: bool = False

    COMBINED = "combined"
    RESULT = "result"
    COMPLETION = "completion"

    def to_bytes(self) -> bytes:
        out: Json = {"v": VERSION, "type": self.kind, "transid": [self.transid],
                     "activationId": self.activation_id}
        if self.kind != Ack.RESULT:
            out["instance"] = {"instance": self.invoker, "instanceType": "invoker"}
            out["isSystemError"] = self.is_system_error
        if self.activation is not None and self.kind != Ack.COMPLETION:
            out["response"] = self.activation.to_doc()
        return orjson.dumps(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Ack:
        d = _load(raw)
        try:
            # OpenWhisk decides the type by field presence; the explicit tag agrees with it.
            kind = d.get("type") or (
                cls.COMBINED if "instance" in d and "response" in d
                else cls.COMPLETION if "instance" in d else cls.RESULT
            )
            resp = d.get("response")
            return cls(
                kind=kind,
                transid=d["transid"][0],
                activation_id=d["activationId"],
                invoker=int((d.get("instance") or {}).get("instance", -1)),
                activation=Activation.from_doc(resp) if isinstance(resp, dict) else None,
                is_system_error=bool(d.get("isSystemError")),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise MessageError(f"bad ack: {exc!r}") from exc


@dataclass(slots=True)
class PingMessage:
    instance: int
    user_memory_mb: int
    enabled: bool = True
    unique_name: str = ""

    def to_bytes(self) -> bytes:
        return orjson.dumps({
            "v": VERSION,
            "name": {"instance": self.instance, "userMemory": f"{self.user_memory_mb} MB",
                     "instanceType": "invoker", "tags": [], "dedicatedNamespaces": [],
                     "uniqueName": self.unique_name},
            "isEnabled": self.enabled,
        })

    @classmethod
    def from_bytes(cls, raw: bytes) -> PingMessage:
        d = _load(raw)
        try:
            name = d["name"]
            mem = int(str(name.get("userMemory", "0 MB")).split()[0])
            return cls(int(name["instance"]), mem, bool(d.get("isEnabled", True)),
                       name.get("uniqueName") or "")
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageError(f"bad ping: {exc!r}") from exc
