"""Service discovery for invokers: ids, registration with a liveness check, watching.

An invoker claims a stable numeric id for its unique name (check-and-set, so two invokers
never share an id and a restarted invoker gets its old one back), registers with a TTL
check it keeps passing, and deregisters on a clean stop. Controllers watch the set of live
invokers; the health state machine of spec §6.1 (up/unhealthy/unresponsive/down) runs in
the controller on top of that set and the ``health`` pings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class InvokerInfo:
    instance: int
    unique_name: str
    user_memory_mb: int
    live: bool = True  # the registry's liveness check is passing


class Registry(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def claim_invoker_id(self, unique_name: str) -> int:
        """A stable id for ``unique_name``: the same one after a restart, never shared."""

    async def register_invoker(self, info: InvokerInfo, ttl_s: float) -> None:
        """Announce an invoker; it stays live while ``heartbeat`` comes within ``ttl_s``."""

    async def heartbeat(self, instance: int) -> None: ...

    async def deregister_invoker(self, instance: int) -> None: ...

    async def invokers(self) -> list[InvokerInfo]:
        """Every registered invoker, with its liveness."""

    def watch(self) -> AsyncIterator[list[InvokerInfo]]:
        """The registered set now, then again each time it changes (blocking queries)."""
