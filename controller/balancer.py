"""Sending activations to invokers and waiting for their acks.

``LeanBalancer`` is OpenWhisk's standalone balancer: one invoker (``invoker0``), no health
protocol. It keeps, per activation in flight, a future that the ``result`` (or ``combined``)
ack resolves, and counts in-flight activations per namespace for the concurrency throttle;
the ``completion`` ack ends the flight. Recently finished activations stay in a small cache
so a client that asks for a record the invoker is still writing gets it anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass

from pwsk import log
from pwsk.activation import Activation
from pwsk.bus import Bus, topics
from pwsk.messages import Ack, ActivationMessage, MessageError

logger = log.get("pwsk.controller.balancer")
RECENT_SIZE = 2048


@dataclass(slots=True)
class Flight:
    namespace: str
    result: asyncio.Future[Activation]


class LeanBalancer:
    def __init__(self, bus: Bus, controller_id: int = 0, invoker_id: int = 0) -> None:
        self.bus = bus
        self.controller_id = controller_id
        self.invoker_id = invoker_id
        self._flights: dict[str, Flight] = {}
        self._in_flight: dict[str, int] = {}
        self.recent: OrderedDict[str, Activation] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        topic = topics.completed(self.controller_id)
        self._sub = self.bus.subscribe(topic, group=topic)
        self._task = asyncio.create_task(self._consume())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._sub.close()
        for flight in self._flights.values():
            flight.result.cancel()

    def in_flight(self, namespace: str) -> int:
        return self._in_flight.get(namespace, 0)

    async def publish(self, msg: ActivationMessage) -> asyncio.Future[Activation]:
        """Send ``msg`` to an invoker; the future resolves with the activation record."""
        fut: asyncio.Future[Activation] = asyncio.get_running_loop().create_future()
        ns = msg.user.namespace
        self._flights[msg.activation_id] = Flight(ns, fut)
        self._in_flight[ns] = self._in_flight.get(ns, 0) + 1
        try:
            await self.bus.publish(topics.invoker(self.invoker_id), msg.to_bytes())
        except BaseException:
            self._finish(msg.activation_id)
            raise
        return fut

    def _finish(self, activation_id: str) -> None:
        flight = self._flights.pop(activation_id, None)
        if flight is None:
            return
        left = self._in_flight.get(flight.namespace, 1) - 1
        if left > 0:
            self._in_flight[flight.namespace] = left
        else:
            self._in_flight.pop(flight.namespace, None)

    async def _consume(self) -> None:
        async for raw in self._sub:
            try:
                ack = Ack.from_bytes(raw)
            except MessageError as exc:
                logger.error("dropping undecodable ack", error=str(exc))
                continue
            if ack.activation is not None:
                self._remember(ack.activation)
                flight = self._flights.get(ack.activation_id)
                if flight is not None and not flight.result.done():
                    flight.result.set_result(ack.activation)
            # The run is over once its result is known: a caller that invokes again right
            # after its blocking reply must not meet its own finished activation in the
            # concurrency count (the record write that follows takes no container).
            self._finish(ack.activation_id)

    def _remember(self, activation: Activation) -> None:
        self.recent[activation.activation_id] = activation
        if len(self.recent) > RECENT_SIZE:
            self.recent.popitem(last=False)
