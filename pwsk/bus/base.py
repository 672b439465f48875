"""The message bus interface: Kafka's model, whatever engine sits behind it.

Topics carry opaque bytes (``pwsk.messages`` owns the encoding). A consumer *group* sees
every message of its topic once; two groups each see all of them, as with Kafka consumer
groups. Topic names live in ``topics`` below so nobody spells them twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class topics:
    HEALTH = "health"
    EVENTS = "events"
    CACHE_INVALIDATION = "cacheInvalidation"

    @staticmethod
    def invoker(instance: int) -> str:
        return f"invoker{instance}"

    @staticmethod
    def completed(controller: int) -> str:
        return f"completed{controller}"


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, payload: bytes) -> None: ...

    def subscribe(self, topic: str, group: str) -> Subscription: ...
