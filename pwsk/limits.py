"""System limits: OpenWhisk's defaults, each overridable from settings.

Sizes are bytes unless the name says MB. ``ActionLimits`` are the per-action limits users set
with ``-t/-m/-l/-c``; ``NamespaceLimits`` are the per-namespace throttles and bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .errors import BadRequest

MB = 1024 * 1024

MAX_HTTP_BODY = 50 * MB
MAX_CODE_SIZE = 48 * MB
MAX_PARAMETERS_SIZE = 1 * MB
MAX_PAYLOAD_SIZE = 1 * MB
MAX_RESULT_SIZE = 1 * MB
MAX_BLOCKING_WAIT_MS = 60_000
LIST_LIMIT_DEFAULT = 30
LIST_LIMIT_MAX = 200
SEQUENCE_MAX_LENGTH = 50
# JSON nested deeper than this is refused at the edge: records wrap a body a few levels down,
# and the serialiser stops at 254 levels (a deeper record could not be stored).
MAX_JSON_DEPTH = 100


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``value`` nests lists and objects more than ``limit`` deep (iterative, so
    no recursion limit is involved)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


@dataclass(frozen=True, slots=True)
class Bound:
    lo: int
    hi: int
    default: int


@dataclass(frozen=True, slots=True)
class ActionBounds:
    timeout: Bound = Bound(100, 300_000, 60_000)
    memory: Bound = Bound(128, 512, 256)
    logs: Bound = Bound(0, 10, 10)
    concurrency: Bound = Bound(1, 1, 1)


DEFAULT_BOUNDS = ActionBounds()


@dataclass(frozen=True, slots=True)
class ActionLimits:
    timeout: int = 60_000
    memory: int = 256
    logs: int = 10
    concurrency: int = 1

    def to_json(self) -> dict[str, int]:
        # By hand: ``asdict`` (a recursive copy) cost 4 % of a warm invoke's server CPU.
        return {"timeout": self.timeout, "memory": self.memory, "logs": self.logs,
                "concurrency": self.concurrency}

    @classmethod
    def from_json(
        cls, data: Any, base: ActionLimits | None = None, bounds: ActionBounds = DEFAULT_BOUNDS
    ) -> ActionLimits:
        """Validate user-given limits, filling absent fields from ``base`` (or the defaults)."""
        current = base or cls(
            bounds.timeout.default, bounds.memory.default, bounds.logs.default,
            bounds.concurrency.default,
        )
        if data is None:
            return current
        if not isinstance(data, dict):
            raise BadRequest("The request content was malformed: limits must be an object.")
        values: dict[str, int] = {}
        checks = (
            ("timeout", bounds.timeout, "duration", "milliseconds"),
            ("memory", bounds.memory, "memory size", "MB"),
            ("logs", bounds.logs, "log size", "MB"),
            ("concurrency", bounds.concurrency, "concurrency", ""),
        )
        for key, bound, label, unit in checks:
            if key not in data or data[key] is None:
                continue
            v = data[key]
            if isinstance(v, bool) or not isinstance(v, int):
                raise BadRequest(f"The request content was malformed: {key} must be an integer.")
            suffix = f" {unit}" if unit else ""
            if v > bound.hi:
                raise BadRequest(
                    f"{label} {v}{suffix} exceeds allowed threshold of {bound.hi}{suffix}"
                )
            if v < bound.lo:
                raise BadRequest(
                    f"{label} {v}{suffix} below allowed threshold of {bound.lo}{suffix}"
                )
            values[key] = v
        return replace(current, **values)


@dataclass(slots=True)
class NamespaceLimits:
    """Per-namespace throttles and bounds, as ``GET /namespaces/{ns}/limits`` shows them."""

    invocationsPerMinute: int = 60
    concurrentInvocations: int = 30
    firesPerMinute: int = 60
    allowedKinds: list[str] | None = None
    storeActivations: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self, bounds: ActionBounds = DEFAULT_BOUNDS) -> dict[str, Any]:
        out: dict[str, Any] = {
            "invocationsPerMinute": self.invocationsPerMinute,
            "concurrentInvocations": self.concurrentInvocations,
            "firesPerMinute": self.firesPerMinute,
            "storeActivations": self.storeActivations,
            "minActionMemory": bounds.memory.lo * MB,
            "maxActionMemory": bounds.memory.hi * MB,
            "minActionTimeout": bounds.timeout.lo,
            "maxActionTimeout": bounds.timeout.hi,
            "minActionLogs": bounds.logs.lo * MB,
            "maxActionLogs": bounds.logs.hi * MB,
            "minActionConcurrency": bounds.concurrency.lo,
            "maxActionConcurrency": bounds.concurrency.hi,
            "maxParameterSize": MAX_PARAMETERS_SIZE,
        }
        if self.allowedKinds is not None:
            out["allowedKinds"] = self.allowedKinds
        out.update(self.extra)
        return out
