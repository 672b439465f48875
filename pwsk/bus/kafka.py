"""The Kafka bus of the distributed stack (aiokafka), with OpenWhisk's topics and settings.

``kafka://host:port[,host:port...][?prefix=&timeout=&partitions=&replication=]``

- Producer tuned for latency: ``linger_ms=0`` (send at once), ``acks=1`` (the leader has it;
  spec §6.2), no idempotence (it would force ``acks=all``). asyncio sets TCP_NODELAY on every
  TCP transport, so aiokafka's connections have it (``tests/bus`` checks).
- Topics are created on first use with OpenWhisk's retention (spec §6.2), since the broker's
  own auto-creation would give them its defaults.
- Producer: no compression (messages are small; compressing costs CPU on the hot path),
  aiokafka's default.
- Consumers: one per subscription (topic, group), ``auto_offset_reset=earliest``, manual
  commits. An offset is committed only when its message and every earlier one of its
  partition are acknowledged, so a message acknowledged out of order never commits past one
  still in progress. Commits are batched: one request per ``COMMIT_INTERVAL_S`` at most,
  carrying each partition's acknowledged prefix (one commit per message was 10-15 % of a
  service's CPU); a rebalance and ``close()`` commit at once. A consumer killed outright
  may thus see up to that interval's acknowledged messages redelivered (at least once).
  ``subscribe`` (each message acknowledged as it is handed out: completion acks, health
  pings, cache invalidations, none of which is work to redo) commits once per
  ``AUTO_COMMIT_INTERVAL_S``: its commit is only where a restarted consumer resumes, and a
  redelivered ack or ping is ignored. At one activation every ~10 ms the 25 ms interval meant
  a commit request for every two or three completions in each controller.
- Engine down: a watch connects to the bootstrap servers every ``WATCH_INTERVAL_S`` (and
  every ``PROBE_INTERVAL_S`` while none answers); while none does, or after a publish failed
  and until one answers again, ``publish`` raises ``ServiceUnavailable`` at once, so callers
  get a 503 in milliseconds rather than after the send timeout. Otherwise a publish fails
  within ``timeout`` seconds (default 2). Producer and consumers reconnect by themselves when
  the broker is back; a subscription whose consumer cannot start keeps retrying. ``health()``
  says which it is, for the controllers' health endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ConsumerStoppedError,
    KafkaError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
    for_code,
)

from ..errors import PayloadTooLarge, ServiceUnavailable
from .base import AutoAck, Delivery, topics

logger = structlog.get_logger("pwsk.bus.kafka")

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
MAX_MESSAGE_BYTES = 5 * 1024 * 1024  # a 1 MB payload limit plus the message around it
CONSUMER = {  # spec §6.2; the rest are aiokafka's defaults
    "auto_offset_reset": "earliest",
    "enable_auto_commit": False,
    "max_poll_interval_ms": 30 * MINUTE_MS,
    "session_timeout_ms": 10_000,
    "heartbeat_interval_ms": 1_000,  # rebalances get noticed within a second
}
PROBE_INTERVAL_S = 0.25
WATCH_INTERVAL_S = 1.0
RETRY_MAX_S = 5.0
COMMIT_INTERVAL_S = 0.025  # acknowledgements within this window share one offset commit
AUTO_COMMIT_INTERVAL_S = 1.0  # the same for subscriptions acknowledged as they deliver


def retention_ms(topic: str) -> int:
    """OpenWhisk's retention for a topic (before any prefix), spec §6.2."""
    if re.fullmatch(r"invoker\d+", topic):
        return 48 * HOUR_MS
    if re.fullmatch(r"scheduler\d+", topic):
        return 24 * HOUR_MS
    if topic == topics.CACHE_INVALIDATION:
        return 5 * MINUTE_MS
    return HOUR_MS  # completed{C}, health, events, creationAck{S}, anything else


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    servers: tuple[tuple[str, int], ...]
    prefix: str = ""
    timeout_s: float = 2.0
    partitions: int = 1
    replication: int = 1

    @classmethod
    def from_url(cls, url: str) -> KafkaSettings:
        parts = urlsplit(url)
        if parts.scheme != "kafka" or not parts.netloc:
            raise ValueError(f"not a kafka://host:port url: {url!r}")
        servers = []
        for server in parts.netloc.split(","):
            host, _, port = server.rpartition(":")
            servers.append((host or server, int(port) if host else 9092))
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return cls(tuple(servers), query.get("prefix", ""), float(query.get("timeout", 2.0)),
                   int(query.get("partitions", 1)), int(query.get("replication", 1)))

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{host}:{port}" for host, port in self.servers)


class KafkaBus:
    def __init__(self, settings: KafkaSettings | str, client_id: str = "pwsk") -> None:
        self.settings = KafkaSettings.from_url(settings) if isinstance(settings, str) else settings
        self.client_id = client_id
        self._producer: Any = None
        self._admin: Any = None
        self._created: set[str] = set()
        self._healthy = True
        self._down_since: float | None = None  # monotonic time the broker went away
        self._reason = ""
        self._watch: asyncio.Task[None] | None = None
        self._recovery_listeners: list[Callable[[], None]] = []
        self._subscriptions: weakref.WeakSet[KafkaAckSubscription] = weakref.WeakSet()

    @property
    def _timeout_ms(self) -> int:
        return int(self.settings.timeout_s * 1000)

    async def start(self) -> None:
        """Connect; raises ``ServiceUnavailable`` when no broker answers within the timeout."""
        if self._producer is not None:
            return
        common = {"bootstrap_servers": self.settings.bootstrap, "client_id": self.client_id,
                  "request_timeout_ms": self._timeout_ms}
        producer = AIOKafkaProducer(**common, acks=1, linger_ms=0, enable_idempotence=False,
                                    max_request_size=MAX_MESSAGE_BYTES)
        admin = AIOKafkaAdminClient(**common)
        try:
            async with asyncio.timeout(self.settings.timeout_s * 2):
                await producer.start()
                await admin.start()
        except (KafkaError, OSError, TimeoutError) as exc:
            await self._close_clients(producer, admin)
            raise ServiceUnavailable(engine="kafka", servers=self.settings.bootstrap,
                                     reason=repr(exc)) from exc
        self._producer, self._admin = producer, admin
        self._watch = asyncio.create_task(self._watch_brokers())

    async def stop(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        producer, admin, self._producer, self._admin = self._producer, self._admin, None, None
        await self._close_clients(producer, admin)

    async def _close_clients(self, producer: Any, admin: Any) -> None:
        for close in (producer and producer.stop, admin and admin.close):
            if close:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.settings.timeout_s):
                        await close()

    def topic(self, name: str) -> str:
        return self.settings.prefix + name

    async def ensure_topic(self, name: str) -> None:
        """Create ``name`` (unprefixed) with its retention unless it exists; cached."""
        full = self.topic(name)
        if full in self._created:
            return
        if self._admin is None:
            raise ServiceUnavailable(engine="kafka", reason="bus not started")
        new = NewTopic(full, self.settings.partitions, self.settings.replication,
                       topic_configs={"retention.ms": str(retention_ms(name)),
                                      "max.message.bytes": str(MAX_MESSAGE_BYTES)})
        async with asyncio.timeout(self.settings.timeout_s):
            response = await self._admin.create_topics([new])
        for _, code, message in response.topic_errors:
            error = for_code(code)
            if code and error is not TopicAlreadyExistsError:
                raise error(message)
        self._created.add(full)

    async def publish(self, topic: str, payload: bytes) -> None:
        if self._producer is None:
            raise ServiceUnavailable(engine="kafka", reason="bus not started")
        if not self._healthy:  # the probe has not seen a broker since the last failure
            raise ServiceUnavailable(engine="kafka", servers=self.settings.bootstrap,
                                     reason="no broker reachable")
        try:
            await self.ensure_topic(topic)
            async with asyncio.timeout(self.settings.timeout_s):
                await self._producer.send_and_wait(self.topic(topic), payload)
        except MessageSizeTooLargeError as exc:
            raise PayloadTooLarge(topic=topic, size=len(payload)) from exc
        except (KafkaError, OSError, TimeoutError) as exc:
            # One slow publish on a busy machine is not an outage: only a broker that no
            # longer accepts connections fails the publishes after it at once.
            if not await self._reachable():
                self._trip("a publish failed", error=repr(exc))
            raise ServiceUnavailable(engine="kafka", topic=topic, reason=repr(exc)) from exc

    @property
    def healthy(self) -> bool:
        """False while no broker is reachable, or since a publish failed until one is."""
        return self._healthy

    def health(self) -> dict[str, Any]:
        """``{"status": "up"}``, or ``"down"`` with since when (seconds) and why."""
        if self._healthy:
            return {"status": "up"}
        since = time.monotonic() - (self._down_since or time.monotonic())
        return {"status": "down", "for_s": round(since, 1), "reason": self._reason}

    def on_recovery(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` each time the broker is back after an outage (messages sent
        during it are lost: e.g. cache invalidations a consumer should assume it missed)."""
        self._recovery_listeners.append(listener)

    def _trip(self, reason: str, error: str = "") -> None:
        """Fail publishes at once until the watch finds a broker that accepts connections."""
        if self._healthy:
            logger.warning("kafka unreachable; publishes fail until it is back",
                           servers=self.settings.bootstrap, reason=reason, error=error)
            self._healthy, self._down_since, self._reason = False, time.monotonic(), reason

    async def _watch_brokers(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S if self._healthy else PROBE_INTERVAL_S)
            if await self._reachable():
                if not self._healthy:
                    self._healthy, self._down_since = True, None
                    logger.info("kafka reachable again", servers=self.settings.bootstrap)
                    for listener in self._recovery_listeners:
                        listener()
            else:
                self._trip("no broker accepts connections")

    async def _reachable(self) -> bool:
        for host, port in self.settings.servers:
            try:
                async with asyncio.timeout(WATCH_INTERVAL_S):
                    _, writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        return False

    def subscribe(self, topic: str, group: str) -> AutoAck:
        return AutoAck(self.subscribe_with_ack(topic, group, AUTO_COMMIT_INTERVAL_S))

    def subscribe_with_ack(self, topic: str, group: str,
                           commit_interval_s: float = COMMIT_INTERVAL_S) -> KafkaAckSubscription:
        subscription = KafkaAckSubscription(self, topic, group, commit_interval_s)
        self._subscriptions.add(subscription)
        return subscription

    def consumer(self, topic: str, group: str, listener: ConsumerRebalanceListener) -> Any:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap,
                                    client_id=self.client_id,
                                    group_id=self.topic(group), **CONSUMER)
        consumer.subscribe([self.topic(topic)], listener=listener)
        return consumer


@dataclass(slots=True, eq=False)
class _Partition:
    """Offsets of one assigned partition handed out and acknowledged since the assignment.

    A new assignment gets a new object, so an ack from before a rebalance is recognised as
    stale (its message goes to the partition's new owner anyway) and ignored.
    """

    pending: deque[int] = field(default_factory=deque)  # handed out, in order
    acked: set[int] = field(default_factory=set)  # acknowledged, not yet contiguous
    ready: int = -1  # next offset to commit: everything before it is acknowledged
    committed: int = -1

    def ack(self, offset: int) -> None:
        self.acked.add(offset)
        while self.pending and self.pending[0] in self.acked:
            done = self.pending.popleft()
            self.acked.discard(done)
            self.ready = done + 1


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, subscription: KafkaAckSubscription) -> None:
        self._subscription = subscription

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._subscription.revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class KafkaAckSubscription:
    def __init__(self, bus: KafkaBus, topic: str, group: str,
                 commit_interval_s: float = COMMIT_INTERVAL_S) -> None:
        self._bus, self._topic, self._group = bus, topic, group
        self._commit_interval_s = commit_interval_s
        self._consumer: Any = None
        self._closed = False
        self._lifecycle = asyncio.Lock()
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._committer: asyncio.Task[None] | None = None

    async def __aiter__(self) -> AsyncIterator[Delivery]:
        delay = 0.1
        while not self._closed:
            try:
                if self._consumer is None:
                    await self._start()
                    continue
                record = await self._consumer.getone()
            except ConsumerStoppedError:
                return
            except (KafkaError, OSError, TimeoutError, ServiceUnavailable) as exc:
                logger.warning("kafka consumer retrying", topic=self._topic, group=self._group,
                               error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = 0.1
            tp = TopicPartition(record.topic, record.partition)
            part = self._partitions.setdefault(tp, _Partition())
            part.pending.append(record.offset)
            yield Delivery(record.value, partial(self._ack, tp, part, record.offset))

    async def _start(self) -> None:
        async with self._lifecycle:
            if self._closed or self._consumer is not None:
                return
            await self._bus.ensure_topic(self._topic)
            consumer = self._bus.consumer(self._topic, self._group, _Listener(self))
            try:
                async with asyncio.timeout(self._bus.settings.timeout_s * 2):
                    await consumer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                raise
            self._consumer = consumer

    async def _ack(self, tp: TopicPartition, part: _Partition, offset: int) -> None:
        if self._partitions.get(tp) is not part:
            return  # acknowledged after a rebalance took the partition away: it comes again
        part.ack(offset)
        if part.ready > part.committed and not self._closed and (
                self._committer is None or self._committer.done()):
            self._committer = asyncio.create_task(self._commit_loop())

    async def _commit_loop(self) -> None:
        # Acks that arrive within an interval, or while a commit is in flight, ride on the
        # next commit; a failed commit is tried again (Kafka may be away for a while) until
        # close() takes over. Nothing is awaited between finding nothing to commit and the
        # task ending, so an ack never finds a committer that will not commit it.
        delay = self._commit_interval_s
        while True:
            await asyncio.sleep(delay)
            done = await self._commit()
            if done is None:
                return
            delay = self._commit_interval_s if done else min(max(0.1, delay * 2), RETRY_MAX_S)

    async def _commit(self, only: list[TopicPartition] | None = None) -> bool | None:
        """Commit every partition's acknowledged prefix: True if that worked, False if it
        failed, None when there was nothing to commit."""
        targets = {tp: part for tp, part in self._partitions.items()
                   if part.ready > part.committed and (only is None or tp in only)}
        if not targets or self._consumer is None:
            return None
        offsets = {tp: part.ready for tp, part in targets.items()}
        try:
            async with asyncio.timeout(self._bus.settings.timeout_s):
                await self._consumer.commit(offsets)
        except (KafkaError, OSError, TimeoutError) as exc:
            # Not lost: the next commit covers these offsets, or the group gets them again.
            logger.warning("kafka commit failed", topic=self._topic, group=self._group,
                           error=repr(exc))
            return False
        for tp, part in targets.items():
            part.committed = max(part.committed, offsets[tp])
        return True

    async def revoked(self, revoked: list[TopicPartition]) -> None:
        """Before a rebalance hands partitions to another consumer: commit what is done."""
        await self._commit(only=revoked)
        for tp in revoked:
            self._partitions.pop(tp, None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._lifecycle:
            if self._committer is not None:
                self._committer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._committer
            await self._commit()  # the last acknowledgements, once more, within the timeout
            consumer, self._consumer = self._consumer, None
            if consumer is not None:
                # Leaving the group hands its partitions to the others at once.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self._bus.settings.timeout_s * 2):
                        await consumer.stop()
