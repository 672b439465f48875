"""The in-process bus of ``pwsk standalone`` (OpenWhisk's ``LeanMessagingProvider``).

Each (topic, group) has one queue its consumers share. Messages published before any
group subscribes to a topic wait in a backlog handed to the first group, as Kafka would
keep them; a group whose consumers all closed keeps collecting messages for the next one,
as Kafka keeps its committed offset. Unlike Kafka, a group that appears later does not see
what was published before it (there is no log to replay).
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections import deque
from collections.abc import AsyncIterator
from functools import partial

from .base import AutoAck, Delivery


class _Group:
    """One group's pending messages and the consumers waiting for one (woken in turn)."""

    def __init__(self) -> None:
        self.items: deque[bytes] = deque()
        self.waiters: deque[asyncio.Future[None]] = deque()

    def put(self, item: bytes) -> None:
        self.items.append(item)
        self.wake()

    def put_back(self, items: list[bytes]) -> None:
        self.items.extendleft(reversed(items))
        for _ in items:
            self.wake()

    def wake(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class MemoryAckSubscription:
    def __init__(self, group: _Group) -> None:
        self._group = group
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._unacked: dict[int, bytes] = {}
        self._ids = itertools.count()

    async def __aiter__(self) -> AsyncIterator[Delivery]:
        group = self._group
        while True:
            while not group.items or self._closed:
                if self._closed:
                    if group.items:
                        group.wake()  # a wake-up meant for us goes to another consumer
                    return
                self._waiter = asyncio.get_running_loop().create_future()
                group.waiters.append(self._waiter)
                try:
                    await self._waiter
                except asyncio.CancelledError:
                    if self._waiter.done() and not self._waiter.cancelled():
                        group.wake()
                    raise
            item = group.items.popleft()
            key = next(self._ids)
            self._unacked[key] = item
            yield Delivery(item, partial(self._ack, key))

    async def _ack(self, key: int) -> None:
        self._unacked.pop(key, None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if self._unacked:
            self._group.put_back(list(self._unacked.values()))
            self._unacked.clear()


class MemoryBus:
    def __init__(self) -> None:
        self._groups: dict[str, dict[str, _Group]] = {}
        self._backlog: dict[str, list[bytes]] = {}
        self._subscriptions: weakref.WeakSet[MemoryAckSubscription] = weakref.WeakSet()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()
        self._subscriptions.clear()
        self._groups.clear()

    async def publish(self, topic: str, payload: bytes) -> None:
        groups = self._groups.get(topic)
        if not groups:
            self._backlog.setdefault(topic, []).append(payload)
            return
        for group in groups.values():
            group.put(payload)

    def subscribe(self, topic: str, group: str) -> AutoAck:
        return AutoAck(self.subscribe_with_ack(topic, group))

    def subscribe_with_ack(self, topic: str, group: str) -> MemoryAckSubscription:
        groups = self._groups.setdefault(topic, {})
        if group not in groups:
            groups[group] = _Group()
            for item in self._backlog.pop(topic, []):
                groups[group].put(item)
        subscription = MemoryAckSubscription(groups[group])
        self._subscriptions.add(subscription)
        return subscription
