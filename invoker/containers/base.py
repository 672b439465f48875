"""What the pool needs from a container backend.

A container runs one action proxy (``runtimes/``) that answers ``/init`` and ``/run`` over
HTTP at ``host:port``. The backend starts it, pauses and resumes it, destroys it, and hands
back the log lines the proxy wrote since the last collection, cut at the sentinels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    family: str  # python | nodejs | blackbox: which proxy
    kind: str
    memory_mb: int
    name: str
    image: str | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogLine:
    time_ns: int
    stream: str  # stdout | stderr
    text: str


@dataclass(slots=True)
class CollectedLogs:
    lines: list[LogLine]
    complete: bool  # both sentinels seen


class Container(Protocol):
    id: str
    host: str
    port: int

    @property
    def alive(self) -> bool: ...

    async def wait_ready(self, timeout_s: float) -> None:
        """Return once the proxy answers HTTP; raise ``ContainerStartError`` otherwise."""

    async def suspend(self) -> None: ...

    async def resume(self) -> None: ...

    async def destroy(self) -> None: ...

    async def collect_logs(self, wait_s: float, sentinels: bool) -> CollectedLogs:
        """Lines since the last call, up to the next sentinel on each stream."""


class ContainerFactory(Protocol):
    async def create(self, spec: ContainerSpec) -> Container: ...

    async def cleanup(self) -> None:
        """Remove leftovers of earlier runs (crashed invokers)."""


class ContainerStartError(Exception):
    """The backend could not start a container; ``developer_error`` when it is the action's
    fault (its image cannot be found), else the platform's."""

    developer_error = False
