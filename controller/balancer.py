"""Sending activations to invokers and waiting for their acks.

``Balancer`` keeps, per activation in flight, a future that the ``result`` (or ``combined``)
ack resolves, and counts in-flight activations per namespace for the concurrency throttle.
Finished activations stay in a small cache while their record is being written, so a client
asking for it meanwhile gets it anyway; once the record is stored (the invoker's
``completion`` ack, or the controller's own put), the entry goes ``STORED_GRACE_S`` later
(the store answers from then on). Entries were kept by count alone before: 2048 results of up
to 1 MB and their logs could pin gigabytes. Subclasses only choose the invoker:

* ``LeanBalancer`` — OpenWhisk's standalone balancer: one invoker, no health protocol;
* ``ShardingBalancer`` (``controller/sharding.py``) — home invoker by hash, coprime steps,
  memory slots, health supervision (spec §6.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from pwsk import log
from pwsk.activation import Activation
from pwsk.bus import Bus, topics
from pwsk.errors import ServiceUnavailable
from pwsk.messages import Ack, ActivationMessage, MessageError

logger = log.get("pwsk.controller.balancer")
RECENT_SIZE = 2048
STORED_GRACE_S = 0.5  # a GET that read the store just before the write still finds it


@dataclass(slots=True)
class Flight:
    namespace: str
    result: asyncio.Future[Activation]
    invoker: int = 0
    memory_mb: int = 0
    fqn: str = ""
    timer: asyncio.TimerHandle | None = field(default=None)


class Balancer:
    def __init__(self, bus: Bus, controller_id: int = 0) -> None:
        self.bus = bus
        self.controller_id = controller_id
        self._flights: dict[str, Flight] = {}
        self._in_flight: dict[str, int] = {}
        self.recent: OrderedDict[str, Activation] = OrderedDict()
        self._stored: deque[tuple[float, str]] = deque()  # (when to forget, activation id)
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        topic = topics.completed(self.controller_id)
        self._sub = self.bus.subscribe(topic, group=topic)
        self._tasks.append(asyncio.create_task(self._consume_acks()))
        self._tasks.append(asyncio.create_task(self._forget_stored()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._sub.close()
        for flight in self._flights.values():
            flight.result.cancel()
            if flight.timer:
                flight.timer.cancel()

    # --- publishing ----------------------------------------------------------------------

    def in_flight(self, namespace: str) -> int:
        return self._in_flight.get(namespace, 0)

    def choose(self, msg: ActivationMessage, memory_mb: int) -> int:
        """The invoker for ``msg`` (and reserve its capacity); raise ``ServiceUnavailable``."""
        raise NotImplementedError

    def release(self, flight: Flight) -> None:
        """Give back what ``choose`` reserved."""

    def outcome(self, invoker: int, system_error: bool, forced: bool) -> None:
        """A completion from ``invoker`` (health bookkeeping)."""

    def check_available(self) -> None:
        """Raise ``ServiceUnavailable`` at once while the bus is known to be down (a trigger
        fire asks before it accepts work that could not reach an invoker)."""
        if not getattr(self.bus, "healthy", True):
            raise ServiceUnavailable()

    def health(self) -> dict[str, Any]:
        """What works and what does not: ``{"status": "ok"|"degraded", "bus": {...}, ...}``."""
        report = getattr(self.bus, "health", None)
        bus = report() if report is not None else {"status": "up"}
        return {"status": "ok" if bus["status"] == "up" else "degraded", "bus": bus,
                "activations_in_flight": len(self._flights)}

    async def publish(self, msg: ActivationMessage, memory_mb: int = 256,
                      timeout_ms: int = 60_000) -> asyncio.Future[Activation]:
        """Send ``msg`` to an invoker; the future resolves with the activation record."""
        self.check_available()
        invoker = self.choose(msg, memory_mb)
        fut: asyncio.Future[Activation] = asyncio.get_running_loop().create_future()
        ns = msg.user.namespace
        flight = Flight(ns, fut, invoker, memory_mb, f"{msg.action_path}/{msg.action_name}")
        # If no completion ever comes (invoker died), free the slot anyway (spec 6.1).
        forced_after = max(timeout_ms, 60_000) * 2 / 1000 + 60
        flight.timer = asyncio.get_running_loop().call_later(
            forced_after, self._force_complete, msg.activation_id)
        self._flights[msg.activation_id] = flight
        self._in_flight[ns] = self._in_flight.get(ns, 0) + 1
        try:
            await self.bus.publish(topics.invoker(invoker), msg.to_bytes())
        except BaseException:
            self._finish(msg.activation_id)
            raise
        return fut

    def _force_complete(self, activation_id: str) -> None:
        flight = self._flights.get(activation_id)
        if flight is not None:
            logger.warning("forced completion", activation=activation_id, invoker=flight.invoker)
            self.outcome(flight.invoker, False, True)
            self._finish(activation_id)

    def _finish(self, activation_id: str) -> Flight | None:
        flight = self._flights.pop(activation_id, None)
        if flight is None:
            return None
        if flight.timer:
            flight.timer.cancel()
        left = self._in_flight.get(flight.namespace, 1) - 1
        if left > 0:
            self._in_flight[flight.namespace] = left
        else:
            self._in_flight.pop(flight.namespace, None)
        self.release(flight)
        return flight

    async def _consume_acks(self) -> None:
        async for raw in self._sub:
            try:
                ack = Ack.from_bytes(raw)
            except MessageError as exc:
                logger.error("dropping undecodable ack", error=str(exc))
                continue
            if ack.activation is not None:
                self.remember(ack.activation)
                flight = self._flights.get(ack.activation_id)
                if flight is not None and not flight.result.done():
                    flight.result.set_result(ack.activation)
            if ack.kind == Ack.COMPLETION:  # sent once the record is stored
                self.stored(ack.activation_id)
            if ack.kind in (Ack.COMPLETION, Ack.COMBINED):
                self.outcome(ack.invoker, ack.is_system_error, False)
            # The run is over once its result is known: a caller that invokes again right
            # after its blocking reply must not meet its own finished activation in the
            # concurrency count (the record write that follows takes no container).
            self._finish(ack.activation_id)

    def remember(self, activation: Activation) -> None:
        self.recent[activation.activation_id] = activation
        if len(self.recent) > RECENT_SIZE:
            self.recent.popitem(last=False)

    def stored(self, activation_id: str) -> None:
        """The record is in the store: forget the cached copy a moment from now."""
        if activation_id in self.recent:
            self._stored.append((time.monotonic() + STORED_GRACE_S, activation_id))

    async def _forget_stored(self) -> None:
        while True:
            await asyncio.sleep(STORED_GRACE_S)
            now = time.monotonic()
            while self._stored and self._stored[0][0] <= now:
                self.recent.pop(self._stored.popleft()[1], None)

    def invoker_states(self) -> dict[str, str]:
        """``{"invoker0": "up", ...}`` as OpenWhisk's ``/invokers`` shows them."""
        return {}


class LeanBalancer(Balancer):
    """One in-process invoker, always used (OpenWhisk's ``LeanBalancer``)."""

    def __init__(self, bus: Bus, controller_id: int = 0, invoker_id: int = 0) -> None:
        super().__init__(bus, controller_id)
        self.invoker_id = invoker_id

    def choose(self, msg: ActivationMessage, memory_mb: int) -> int:
        return self.invoker_id

    def invoker_states(self) -> dict[str, str]:
        return {f"invoker{self.invoker_id}": "up"}
