"""The activation record (spec §3): what every run leaves behind.

Stored form: ``{namespace, name, subject, activationId, start, end, cause?, response:
{statusCode, result?, size?}, logs, version, publish, annotations, duration?}``.
Extended form (GET, invoke, ``docs=true``): ``response`` becomes ``{result, success, status
[, size]}`` and a trigger activation (``end == 0``) drops ``end`` and ``duration``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import orjson

Json = dict[str, Any]


class Status(IntEnum):
    SUCCESS = 0
    APPLICATION_ERROR = 1
    DEVELOPER_ERROR = 2
    WHISK_ERROR = 3

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Status.SUCCESS: "success",
    Status.APPLICATION_ERROR: "application error",
    Status.DEVELOPER_ERROR: "action developer error",
    Status.WHISK_ERROR: "whisk internal error",
}


@dataclass(slots=True)
class Response:
    status: Status
    result: Any = None
    size: int | None = None

    @classmethod
    def success(cls, result: Any) -> Response:
        return cls(Status.SUCCESS, result)

    @classmethod
    def error(cls, status: Status, message: Any) -> Response:
        return cls(status, {"error": message})

    @property
    def is_success(self) -> bool:
        return self.status == Status.SUCCESS

    def to_doc(self) -> Json:
        out: Json = {"statusCode": int(self.status)}
        if self.result is not None:
            out["result"] = self.result
        if self.size is not None:
            out["size"] = self.size
        return out

    def to_extended(self) -> Json:
        out: Json = {"result": self.result, "success": self.is_success,
                     "status": self.status.label}
        if self.size is not None:
            out["size"] = self.size
        return out

    @classmethod
    def from_doc(cls, doc: Json) -> Response:
        code = doc.get("statusCode")
        if code is None:  # already extended
            status = next((s for s, n in _LABELS.items() if n == doc.get("status")), Status.SUCCESS)
        else:
            status = Status(int(code))
        return cls(status, doc.get("result"), doc.get("size"))


@dataclass(slots=True)
class Activation:
    namespace: str
    name: str
    subject: str
    activation_id: str
    start: int
    end: int
    response: Response
    logs: list[str] = field(default_factory=list)
    version: str = "0.0.1"
    annotations: list[Json] = field(default_factory=list)
    cause: str | None = None

    @property
    def duration(self) -> int | None:
        return self.end - self.start if self.end else None

    @property
    def doc_id(self) -> str:
        return f"{self.namespace}/{self.activation_id}"

    def annotation(self, key: str, default: Any = None) -> Any:
        for a in self.annotations:
            if a.get("key") == key:
                return a.get("value")
        return default

    def _common(self) -> Json:
        out: Json = {
            "namespace": self.namespace,
            "name": self.name,
            "subject": self.subject,
            "activationId": self.activation_id,
            "start": self.start,
            "end": self.end,
            "logs": self.logs,
            "version": self.version,
            "publish": False,
            "annotations": self.annotations,
        }
        if self.cause:
            out["cause"] = self.cause
        return out

    def to_doc(self) -> Json:
        out = self._common()
        out["response"] = self.response.to_doc()
        if self.duration is not None:
            out["duration"] = self.duration
        out["_id"] = self.doc_id
        out["entityType"] = "activation"
        return out

    def to_extended(self) -> Json:
        out = self._common()
        out["response"] = self.response.to_extended()
        if self.end:
            out["duration"] = self.duration
        else:
            del out["end"]
        return out

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_doc())

    @classmethod
    def from_doc(cls, doc: Json) -> Activation:
        return cls(
            namespace=doc["namespace"],
            name=doc["name"],
            subject=doc.get("subject", ""),
            activation_id=doc["activationId"],
            start=int(doc.get("start") or 0),
            end=int(doc.get("end") or 0),
            response=Response.from_doc(doc.get("response") or {}),
            logs=list(doc.get("logs") or []),
            version=doc.get("version", "0.0.1"),
            annotations=list(doc.get("annotations") or []),
            cause=doc.get("cause"),
        )
