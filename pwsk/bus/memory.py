"""The in-process bus of ``pwsk standalone`` (OpenWhisk's ``LeanMessagingProvider``).

One unbounded ``asyncio.Queue`` per (topic, group). Messages published before a group
subscribes wait in a backlog handed to the first subscriber, as Kafka would keep them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class MemorySubscription:
    def __init__(self, bus: MemoryBus, topic: str, group: str, queue: asyncio.Queue[bytes | None]):
        self._bus, self._topic, self._group, self._queue = bus, topic, group, queue

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        self._bus._groups.get(self._topic, {}).pop(self._group, None)
        self._queue.put_nowait(None)


class MemoryBus:
    def __init__(self) -> None:
        self._groups: dict[str, dict[str, asyncio.Queue[bytes | None]]] = {}
        self._backlog: dict[str, list[bytes]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for groups in self._groups.values():
            for queue in groups.values():
                queue.put_nowait(None)
        self._groups.clear()

    async def publish(self, topic: str, payload: bytes) -> None:
        groups = self._groups.get(topic)
        if not groups:
            self._backlog.setdefault(topic, []).append(payload)
            return
        for queue in groups.values():
            queue.put_nowait(payload)

    def subscribe(self, topic: str, group: str) -> MemorySubscription:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        for item in self._backlog.pop(topic, []):
            queue.put_nowait(item)
        self._groups.setdefault(topic, {})[group] = queue
        return MemorySubscription(self, topic, group, queue)
