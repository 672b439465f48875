"""The bridge service: MQTT messages in, trigger fires out, nothing dropped silently.

    async with Bridge(load_config("bridge.yaml")) as bridge:
        await bridge.wait_ready()       # connected and subscribed
        ...

Tasks under one supervisor:

- the **reader** holds the broker connection (reconnecting with back-off), takes a message,
  journals the fires it owes, queues its acknowledgement, and starts the fires; when
  ``max_in_flight`` fires are running it waits for a slot, so it stops reading (back-pressure:
  the broker keeps what has not been acknowledged);
- the **acker** (one per connection) sends PUBACKs in arrival order once the journal is on
  disk (group commit);
- the **backlog** fires journal entries left by an earlier run or by a lost connection;
- the **metrics** server.

Delivery guarantee: at least once. A QoS 1 message is acknowledged to the broker only once
the fires it owes are in the fsynced journal; a journal entry is done only once pwsk answered
2xx or the fire was written to the dead-letter file. Duplicates are possible when the bridge
crashes, or the connection drops, after a fire was sent but before its ``done`` record or its
PUBACK got out: the journal replays it, or the broker sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Coroutine
from typing import Any

import httpx

from .config import BridgeConfig
from .firer import Firer
from .journal import DeadLetters, Entry, Journal
from .metrics import Metrics, MetricsServer
from .mqtt import Connection, Message, MqttError
from .routes import Router

log = logging.getLogger("bridge")


class _Acker:
    """PUBACKs for one connection, in arrival order, each once its journal records are durable.

    MQTT 3.1.1 §4.6 asks a client to acknowledge QoS 1 messages in the order it received them.
    """

    def __init__(self, conn: Connection, journal: Journal) -> None:
        self.conn = conn
        self.journal = journal
        self._queue: deque[tuple[Message, int]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def push(self, message: Message, position: int) -> None:
        self._queue.append((message, position))
        self._idle.clear()
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                # One sync covers everything queued so far, so a burst shares one fsync.
                # What arrives during it waits for the next one: never ack ahead of the disk.
                durable = self._queue[-1][1]
                await self.journal.sync(durable)
                while self._queue and self._queue[0][1] <= durable:
                    message, _ = self._queue.popleft()
                    self.conn.ack(message)
            self._idle.set()

    async def flush(self) -> None:
        await self._idle.wait()


class Bridge:
    """MQTT → pwsk trigger fires. ``start()``/``stop()`` or ``async with``; ``run()`` for a
    process that lives until ``stop()``, cancellation, or a failed task."""

    def __init__(self, config: BridgeConfig, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """``transport`` replaces the HTTP network for fires (tests)."""
        self.config = config
        self.metrics = Metrics()
        self.router = Router(config.routes)
        self.journal = Journal(config.journal_path, fsync=config.fsync)
        self.dead_letters = DeadLetters(config.dead_letter_path, fsync=config.fsync)
        self.firer = Firer(config.api, config.retry, self.metrics, self.dead_letters,
                           transport=transport)
        self.metrics_server: MetricsServer | None = None
        if config.metrics is not None:
            self.metrics_server = MetricsServer(self.metrics, config.metrics.host,
                                                config.metrics.port, lambda: self.connected,
                                                self.health)
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._backlog: asyncio.Queue[Entry] = asyncio.Queue()
        self._fires: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._ready = asyncio.Event()
        self._failed: BaseException | None = None
        self._started = False
        self._stopped = False
        self._connections = 0
        self._rng = random.Random()

    # lifecycle -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.metrics.connected == 1

    def health(self) -> dict[str, Any]:
        """``status`` ok or degraded; the broker connection; pwsk taking fires (``down``
        with the last failure while fires are being retried); fires owed."""
        broker = {"status": "up"} if self.connected else {"status": "down"}
        pwsk: dict[str, str] = {"status": "up"}
        if self.firer.failing is not None:
            pwsk = {"status": "down", "reason": self.firer.failing}
        degraded = broker["status"] != "up" or pwsk["status"] != "up"
        return {"status": "degraded" if degraded else "ok", "broker": broker, "pwsk": pwsk,
                "pending": self.metrics.pending, "dead_lettered": self.metrics.dead_lettered}

    async def start(self) -> None:
        """Open the journal (queueing what an earlier run owed), then start the tasks.
        Returns without waiting for the broker: see ``wait_ready``."""
        if self._started:
            return
        self._started = True
        owed = self.journal.open()
        if owed:
            log.info("journal: %d fire(s) owed from an earlier run", len(owed))
        for entry in owed:
            self.metrics.replayed += 1
            self._backlog.put_nowait(entry)
        self._update_pending()
        if self.metrics_server is not None:
            await self.metrics_server.start()
        self._reader = self._spawn(self._read_forever(), "reader")
        self._spawn(self._drain_backlog(), "backlog")

    async def wait_ready(self) -> None:
        """Wait until connected and subscribed; raises why if the bridge stopped instead.
        Bound it with ``asyncio.timeout``."""
        ready = asyncio.ensure_future(self._ready.wait())
        stopped = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (ready, stopped):
                waiter.cancel()
            await asyncio.gather(ready, stopped, return_exceptions=True)
        if not self._ready.is_set():
            raise self._failed or RuntimeError("the bridge stopped before it was ready")

    async def run(self) -> None:
        """Start, then live until ``stop()`` or cancellation; a failed task is re-raised."""
        await self.start()
        try:
            await self._stopping.wait()
        finally:
            await self.stop()
        if self._failed is not None:
            raise self._failed

    async def stop(self) -> None:
        """Stop reading, acknowledge what was journaled, give running fires ``drain_timeout``
        to finish, then leave the rest to the journal. Idempotent."""
        if self._stopped or not self._started:
            self._stopped = True
            return
        self._stopped = True
        self._stopping.set()
        # The reader notices _stopping, journals and acknowledges what it holds, disconnects.
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=self.config.drain_timeout)
        if self._fires:
            await asyncio.wait(set(self._fires), timeout=self.config.drain_timeout)
        for task in [*self._tasks, *self._fires]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._fires, return_exceptions=True)
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        await self.firer.aclose()
        self.journal.close()
        self.metrics.connected = 0

    async def __aenter__(self) -> Bridge:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=f"bridge-{name}")
        task.add_done_callback(self._task_done)
        self._tasks.append(task)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping.is_set():
            return
        exc = task.exception()
        if exc is not None:
            log.error("bridge task %s failed", task.get_name(), exc_info=exc)
            self._failed = exc
            self._stopping.set()

    # the broker side ---------------------------------------------------------------------

    async def _read_forever(self) -> None:
        settings = self.config.broker
        delay = settings.reconnect_initial
        while not self._stopping.is_set():
            try:
                async with Connection(settings) as conn:
                    delay = settings.reconnect_initial
                    self._connections += 1
                    if self._connections > 1:
                        self.metrics.reconnects += 1
                    log.info("connected to %s:%d as %s", settings.host, settings.port,
                             settings.client_id)
                    await self._serve(conn)
            except MqttError as exc:
                if not self._stopping.is_set():
                    log.warning("broker %s:%d: %s; reconnecting in about %.2fs",
                                settings.host, settings.port, exc, delay)
            finally:
                self.metrics.connected = 0
                self._ready.clear()
            if self._stopping.is_set():
                break
            await self._pause(delay * (0.5 + 0.5 * self._rng.random()))
            delay = min(delay * 2, settings.reconnect_max)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _serve(self, conn: Connection) -> None:
        acker = _Acker(conn, self.journal)
        acking = asyncio.create_task(acker.run(), name="bridge-acker")
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            filters = self.router.filters
            granted = await conn.subscribe(filters)
            for topic, qos in zip(filters, granted, strict=False):
                if qos >= 0x80:
                    raise MqttError(f"the broker refused the subscription to {topic!r}")
                if qos < 1:
                    log.warning("the broker granted QoS %d for %r: its messages arrive at "
                                "most once", qos, topic)
            self.metrics.connected = 1
            self._ready.set()
            while (message := await conn.next(stopping)) is not None:
                for entry in self._take(message, acker):
                    if not await self._acquire_or_stop(stopping):
                        break  # journaled but not started: the next run fires it
                    self._launch(entry)
            # Stopping: journal and acknowledge whatever paho has read already.
            for message in conn.leftovers():
                self._take(message, acker)
            await acker.flush()
        except MqttError:
            # What paho read but we had not taken was never acknowledged. A broker with a
            # persistent session sends it again; amqtt does not, so keep it (at least once).
            for message in conn.leftovers():
                for entry in self._take(message, None):
                    self._backlog.put_nowait(entry)
            raise
        finally:
            stopping.cancel()
            acking.cancel()
            await asyncio.gather(stopping, acking, return_exceptions=True)

    async def _acquire_or_stop(self, stopping: asyncio.Future[Any]) -> bool:
        if self._stopping.is_set():
            return False
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once, no task switch to wait for
            return True
        acquire = asyncio.ensure_future(self._slots.acquire())
        await asyncio.wait({acquire, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not acquire.done():
            acquire.cancel()
            await asyncio.gather(acquire, return_exceptions=True)
        if acquire.done() and not acquire.cancelled():
            if not self._stopping.is_set():
                return True
            self._slots.release()
        return False

    def _take(self, message: Message, acker: _Acker | None) -> list[Entry]:
        """Journal the fires ``message`` owes and queue its acknowledgement. Synchronous, so
        no cancellation can land between taking a message and writing it down."""
        self.metrics.received += 1
        topic = message.topic.value
        payload = message.payload
        data = bytes(payload) if isinstance(payload, bytes | bytearray) else str(payload).encode()
        entries = [self.journal.add(fire.trigger, fire.params, fire.topic, error=fire.error)
                   for fire in self.router.fires(topic, data)]
        if not entries:
            log.warning("message on %s matched no route; acknowledged and ignored", topic)
        if acker is not None:
            acker.push(message, self.journal.position)
        self._update_pending()
        return entries

    # the pwsk side -----------------------------------------------------------------------

    async def _drain_backlog(self) -> None:
        while True:
            entry = await self._backlog.get()
            await self._slots.acquire()
            self._launch(entry)

    def _launch(self, entry: Entry) -> None:
        """Start a fire; the caller holds a slot, which the fire gives back."""
        self.metrics.in_flight += 1
        task = asyncio.create_task(self._fire(entry), name=f"bridge-fire-{entry.seq}")
        self._fires.add(task)
        task.add_done_callback(self._fires.discard)

    async def _fire(self, entry: Entry) -> None:
        try:
            outcome = await self.firer.fire(entry)
            self.journal.done(entry)
            log.debug("seq %d %s: %s after %d attempt(s)", entry.seq, entry.trigger,
                      outcome.result, outcome.attempts)
        except asyncio.CancelledError:
            raise  # shutting down: the entry stays in the journal for the next run
        except Exception:
            log.exception("fire %s (seq %d) failed unexpectedly; kept in the journal",
                          entry.trigger, entry.seq)
        finally:
            self.metrics.in_flight -= 1
            self._slots.release()
            self._update_pending()

    def _update_pending(self) -> None:
        self.metrics.pending = self.journal.pending
