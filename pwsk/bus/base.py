"""The message bus interface: Kafka's model, whatever engine sits behind it.

Topics carry opaque bytes (``pwsk.messages`` owns the encoding). A consumer *group* sees
every message of its topic once; two groups each see all of them, and the consumers of one
group share its messages, as with Kafka consumer groups. Topic names live in ``topics``
below so nobody spells them twice.

Delivery is at least once. With ``subscribe`` a message counts as handled when the consumer
asks for the next one (the body of an ``async for`` finished). With ``subscribe_with_ack``
the consumer says so itself with ``Delivery.ack()``, in any order, for work that outlives
the loop body (the invoker acks an activation once its record is stored). A message not
acknowledged when its consumer closes or dies goes to the group again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
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


class Delivery:
    """One message of a ``subscribe_with_ack`` subscription; ``ack()`` once it is handled.

    ``ack()`` is cheap and idempotent: it records the acknowledgement, and the engine makes
    it durable soon after (Kafka: an offset commit) and at the latest on ``close()``.
    """

    __slots__ = ("_on_ack", "value")

    def __init__(self, value: bytes, on_ack: Callable[[], Awaitable[None]] | None = None):
        self.value = value
        self._on_ack = on_ack

    async def ack(self) -> None:
        on_ack, self._on_ack = self._on_ack, None
        if on_ack is not None:
            await on_ack()


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class AckSubscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Delivery]: ...

    async def close(self) -> None:
        """Stop consuming; messages handed out but not acknowledged go to the group again."""


class Bus(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send ``payload``; raises ``ServiceUnavailable`` (soon) when the engine is down."""

    def subscribe(self, topic: str, group: str) -> Subscription: ...

    def subscribe_with_ack(self, topic: str, group: str) -> AckSubscription: ...


class AutoAck:
    """A bytes subscription over an acknowledging one: each message is acknowledged when the
    consumer asks for the next, i.e. once the loop body that handled it has finished."""

    def __init__(self, inner: AckSubscription) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for delivery in self._inner:
            yield delivery.value
            await delivery.ack()

    async def close(self) -> None:
        await self._inner.close()
