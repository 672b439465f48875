"""The invoker service: topic ``invoker{N}`` in, activation records and acks out.

For each ``ActivationMessage``: fetch the action at the message's revision (cached), run it
in the pool, send the ``result`` ack to a blocking caller as soon as the record is built,
store the record, then send the ``completion`` ack that frees the controller's slot.

A blocking activation's slot is freed by its result ack already; its completion (the record
is stored: the controller may forget its cached copy) waits up to ``COMPLETION_DELAY_S`` to
ride in the same Kafka produce request, and the controller's same fetch, as the next result
ack to that controller: one produce, one fetch and one fetch request fewer per activation
under steady load. It is sent (and retried) like any completion once it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict

from pwsk import log, tid
from pwsk.activation import Activation, Response, Status
from pwsk.bus import Bus, topics
from pwsk.bus.base import Delivery
from pwsk.entities import Action
from pwsk.errors import Conflict, Messages
from pwsk.messages import Ack, ActivationMessage, MessageError, PingMessage
from pwsk.settings import Settings
from pwsk.store import ACTIVATIONS, WHISKS, Store

from .containers import ContainerFactory
from .pool import ContainerPool
from .runner import Job, _now_ms

logger = log.get("pwsk.invoker")

ACTION_CACHE_SIZE = 1024
RECORD_RETRY_S = 120.0  # how long an activation record keeps trying while the store is down
ACK_RETRY_S = 120.0  # how long a completion ack keeps trying while the bus is down
COMPLETION_DELAY_S = 0.05  # a blocking activation's completion waits this long for company
MAX_IN_FLIGHT = 10_000  # jobs taken off the topic but not finished (the pool queues them)


class Invoker:
    def __init__(self, settings: Settings, store: Store, bus: Bus,
                 factory: ContainerFactory) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus
        self.id = settings.invoker_id
        self.pool = ContainerPool(factory, settings, name=f"invoker{self.id}")
        self.factory = factory
        self._actions: OrderedDict[tuple[str, str], Action] = OrderedDict()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._consumer: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None
        # Completions of blocking activations not sent yet, per controller.
        self._held: dict[int, list[tuple[ActivationMessage, Ack]]] = {}
        self._held_timers: dict[int, asyncio.TimerHandle] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.factory.cleanup()
        await self.pool.start()
        topic = topics.invoker(self.id)
        # Acknowledged only once the record is stored: a crashed invoker's activations are
        # redelivered to whoever consumes the topic next, never lost silently.
        self._subscription = self.bus.subscribe_with_ack(topic, group=topic)
        self._consumer = asyncio.create_task(self._consume())
        self._pinger = asyncio.create_task(self._ping_loop())
        logger.info("invoker started", instance=self.id)

    async def stop(self, drain_s: float = 5.0) -> None:
        for task in (self._consumer, self._pinger):
            if task:
                task.cancel()
        with contextlib.suppress(Exception):
            await self._subscription.close()
        if self._tasks:
            # Let running activations finish (and be recorded) for a moment, then cut.
            _, pending = await asyncio.wait(self._tasks, timeout=drain_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for controller in list(self._held):
            self._release(controller)
        if self._sending:
            await asyncio.wait(self._sending, timeout=drain_s)
        await self.pool.stop()

    async def _ping_loop(self) -> None:
        ping = PingMessage(self.id, self.settings.user_memory_mb).to_bytes()
        while True:
            with contextlib.suppress(Exception):
                await self.bus.publish(topics.HEALTH, ping)
            await asyncio.sleep(1.0)

    async def _consume(self) -> None:
        async for delivery in self._subscription:
            try:
                msg = ActivationMessage.from_bytes(delivery.value)
            except MessageError as exc:
                logger.error("dropping undecodable activation message", error=str(exc))
                await delivery.ack()
                continue
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(msg, delivery))
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            logger.error("activation handler crashed", error=repr(task.exception()))

    async def _fetch(self, msg: ActivationMessage) -> Action | None:
        doc_id = f"{msg.action_path}/{msg.action_name}"
        cache_key = (doc_id, msg.revision)
        action = self._actions.get(cache_key)
        if action is not None:
            self._actions.move_to_end(cache_key)
            return action
        doc = await self.store.get(WHISKS, doc_id)
        if doc is None or doc.get("entityType") != "action":
            return None
        if msg.revision and doc.get("_rev") != msg.revision:
            return None  # updated since the controller looked: the caller retries fresh
        action = Action.from_doc(doc)
        self._actions[cache_key] = action
        if len(self._actions) > ACTION_CACHE_SIZE:
            self._actions.popitem(last=False)
        return action

    async def _handle(self, msg: ActivationMessage, delivery: Delivery) -> None:
        tid.current.set(msg.transid)
        try:
            action = await self._fetch(msg)
        except Exception as exc:
            logger.error("action fetch failed", error=repr(exc))
            activation = self._without_run(msg, Status.WHISK_ERROR,
                                           "Failed to fetch the action.")
        else:
            if action is None:
                activation = self._without_run(msg, Status.APPLICATION_ERROR,
                                               Messages.ACTION_GONE)
            else:
                activation = await self.pool.run(Job(msg, action), msg.revision)
        system_error = activation.response.status == Status.WHISK_ERROR
        if msg.blocking:
            self._release(msg.controller)  # held completions go in the same request
            await self._ack(msg, Ack(Ack.RESULT, msg.transid, msg.activation_id, self.id,
                                     activation, system_error))
        await self._record(activation, msg)
        # Once the record is stored: the offset (``ack()`` only notes it, the bus commits in
        # the background), then the completion ack that frees the controller's slot.
        await delivery.ack()
        completion = Ack(Ack.COMPLETION, msg.transid, msg.activation_id, self.id, None,
                         system_error)
        if msg.blocking:
            self._hold(msg, completion)
        else:
            await self._ack(msg, completion)

    def _hold(self, msg: ActivationMessage, completion: Ack) -> None:
        held = self._held.setdefault(msg.controller, [])
        held.append((msg, completion))
        if len(held) == 1:
            self._held_timers[msg.controller] = asyncio.get_running_loop().call_later(
                COMPLETION_DELAY_S, self._release, msg.controller)

    def _release(self, controller: int) -> None:
        """Send the completions held for ``controller`` (each retried on its own)."""
        held = self._held.pop(controller, None)
        timer = self._held_timers.pop(controller, None)
        if timer is not None:
            timer.cancel()
        for msg, completion in held or ():
            task = asyncio.create_task(self._ack(msg, completion))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    def _without_run(self, msg: ActivationMessage, status: Status, message: str) -> Activation:
        now = _now_ms()
        return Activation(
            namespace=msg.user.namespace, name=msg.action_name, subject=msg.user.subject,
            activation_id=msg.activation_id, start=now, end=now,
            response=Response.error(status, message), version=msg.action_version,
            annotations=[{"key": "path", "value": f"{msg.action_path}/{msg.action_name}"}],
            cause=msg.cause,
        )

    async def _ack(self, msg: ActivationMessage, ack: Ack) -> None:
        # A completion frees the controller's slot and the namespace's concurrency count, so
        # it waits out a bus outage (else both stay taken until the forced completion).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (ACK_RETRY_S if ack.kind == Ack.COMPLETION else 0)
        delay = 0.2
        while True:
            try:
                await self.bus.publish(topics.completed(msg.controller), ack.to_bytes())
                return
            except Exception as exc:
                if loop.time() >= deadline:
                    logger.error("ack failed", activation=ack.activation_id, error=repr(exc))
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _record(self, activation: Activation, msg: ActivationMessage) -> None:
        if msg.user.limits.get("storeActivations") is False:
            return
        doc = activation.to_doc()
        delay = 0.05
        deadline = asyncio.get_running_loop().time() + RECORD_RETRY_S
        while True:
            try:
                await self.store.put(ACTIVATIONS, doc)
                return
            except Conflict:
                # An earlier attempt that timed out had landed after all: ids are unique.
                return
            except Exception as exc:
                if asyncio.get_running_loop().time() >= deadline:
                    logger.error("activation record lost", activation=activation.activation_id,
                                 error=repr(exc))
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

