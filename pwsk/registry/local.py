"""The in-process registry of ``pwsk standalone``: invokers in one dict, liveness by TTL."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from .base import InvokerInfo


class LocalRegistry:
    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._invokers: dict[int, tuple[InvokerInfo, float, float]] = {}  # info, ttl, last beat
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def claim_invoker_id(self, unique_name: str) -> int:
        if unique_name not in self._ids:
            self._ids[unique_name] = len(self._ids)
        return self._ids[unique_name]

    async def register_invoker(self, info: InvokerInfo, ttl_s: float) -> None:
        self._invokers[info.instance] = (info, ttl_s, time.monotonic())
        await self._notify()

    async def heartbeat(self, instance: int) -> None:
        entry = self._invokers.get(instance)
        if entry is not None:
            self._invokers[instance] = (entry[0], entry[1], time.monotonic())

    async def deregister_invoker(self, instance: int) -> None:
        self._invokers.pop(instance, None)
        await self._notify()

    async def invokers(self) -> list[InvokerInfo]:
        now = time.monotonic()
        return [replace(info, live=now - beat <= ttl)
                for info, ttl, beat in sorted(self._invokers.values(), key=lambda e: e[0].instance)]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def watch(self) -> AsyncIterator[list[InvokerInfo]]:
        while True:
            yield await self.invokers()
            # Wake on a change, or after a second to re-check liveness.
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 1.0)
