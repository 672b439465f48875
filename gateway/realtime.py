"""The realtime channel's core: a hub of per-namespace channels, and its feed from the bus.

A *channel* is ``(namespace, name)``. It keeps a bounded ring of its recent events and a set
of subscribers. Every event gets an id ``"<epoch>-<seq>"``: ``seq`` grows by one per event of
the channel, ``epoch`` names this hub (a new one on every start), so an id from another
gateway or from before a restart is recognised as foreign instead of being misread.

Publishing never waits for readers. Each subscriber has a bounded queue; a subscriber whose
queue is full is *dropped* (its stream ends, the browser reconnects with ``Last-Event-ID``
and catches up from the ring), so one slow browser costs the publishers nothing.

Across gateways: ``Relay.publish`` puts an event on the bus topic ``realtime``; every gateway
consumes that topic in a consumer group of its own, so each one sees every event and feeds
its hub from there. The publishing gateway's hub is fed the same way, which keeps one order
of events per gateway and one code path.

    Relay.publish ──► bus "realtime" ──► Relay (group per gateway) ──► Hub.deliver
                                                                        ├─► ring
                                                                        └─► Subscriber queues

The HTTP side (``POST /realtime/...``, the SSE stream) lives in ``gateway.edge``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pwsk import log
from pwsk.bus import Bus, Subscription
from pwsk.errors import BadRequest, PayloadTooLarge, ServiceUnavailable
from pwsk.names import is_valid_name

logger = log.get("pwsk.gateway.realtime")

TOPIC = "realtime"
VERSION = 1
_CHANNEL = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")


class RealtimeSettings(BaseSettings):
    """Limits of the channel; ``PWSK_REALTIME_*`` environment variables override them."""

    model_config = SettingsConfigDict(env_prefix="PWSK_REALTIME_", extra="ignore")

    max_event_bytes: int = Field(default=64 * 1024, ge=1)
    ring_events: int = Field(default=1000, ge=1)  # recent events kept per channel for replay
    ring_bytes: int = Field(default=8 * 1024 * 1024, ge=1)  # ... and at most this much of them
    queue_events: int = Field(default=256, ge=1)  # a subscriber further behind is dropped
    max_channels: int = Field(default=10_000, ge=1)  # idle channels beyond it are forgotten
    max_subscribers: int = Field(default=10_000, ge=1)  # open streams per gateway
    heartbeat_s: float = Field(default=15.0, gt=0)  # comment line on an idle stream
    retry_ms: int = Field(default=2000, ge=0)  # what browsers wait before reconnecting
    write_timeout_s: float = Field(default=30.0, gt=0)  # a stream that cannot write is closed


def check_namespace(name: str) -> str:
    """Namespace names follow the entity name rules; a 400 otherwise."""
    if not is_valid_name(name):
        raise BadRequest(f"The namespace name '{name[:80]}' is not valid.")
    return name


def check_channel(name: str) -> str:
    """Channel names: 1 to 64 letters, digits, ``_ . -``; a 400 otherwise."""
    if not _CHANNEL.match(name):
        raise BadRequest(f"The channel name '{name[:80]}' is not valid: use 1 to 64 letters, "
                         "digits, '_', '.' or '-', starting with a letter, digit or '_'.")
    return name


def encode_json(body: bytes, limit: int) -> str:
    """A request body as one line of compact JSON; 413 over ``limit`` bytes, 400 if not JSON."""
    if len(body) > limit:
        raise PayloadTooLarge(f"The event is larger than {limit} bytes.")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The event must be a JSON value.") from None
    return orjson.dumps(value).decode()


# -- the bus message ------------------------------------------------------------------------


class MessageError(ValueError):
    """A bus message that cannot be decoded; the relay logs it and moves on."""


@dataclass(frozen=True, slots=True)
class RealtimeMessage:
    """One event on the ``realtime`` topic. ``data`` is compact JSON text, kept as text so no
    gateway parses it again."""

    namespace: str
    channel: str
    data: str
    published: int  # epoch ms at the publishing gateway
    transid: str = ""

    def to_bytes(self) -> bytes:
        return orjson.dumps({"v": VERSION, "namespace": self.namespace, "channel": self.channel,
                             "data": self.data, "published": self.published,
                             "transid": self.transid})

    @classmethod
    def from_bytes(cls, raw: bytes) -> RealtimeMessage:
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise MessageError(f"not JSON: {exc}") from exc
        if not isinstance(msg, dict) or msg.get("v") != VERSION:
            raise MessageError(f"not a version {VERSION} realtime message")
        try:
            return cls(str(msg["namespace"]), str(msg["channel"]), str(msg["data"]),
                       int(msg["published"]), str(msg.get("transid") or ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageError(f"malformed realtime message: {exc!r}") from exc


# -- the hub --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    data: str  # compact JSON
    published: int  # epoch ms

    @property
    def size(self) -> int:
        return len(self.data)


class Dropped(Exception):
    """The subscriber fell too far behind, or the hub closed; its stream should end."""


class Subscriber:
    """One reader of one channel: replayed events first, then live ones, in order."""

    def __init__(self, channel: Channel, replay: list[Event], capacity: int) -> None:
        self.channel = channel
        self._items: deque[Event] = deque(replay)
        # The replay may be longer than the live budget; it does not count against it.
        self._limit = capacity + len(replay)
        self._wake = asyncio.Event()
        self.dropped = False
        self.closed = False

    def offer(self, event: Event) -> bool:
        """Queue ``event`` without waiting; False (and the subscriber is dropped) when full."""
        if self.closed:
            return False
        if len(self._items) >= self._limit:
            self.dropped = True
            self._items.clear()
            self._wake.set()
            return False
        self._items.append(event)
        self._wake.set()
        return True

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def next(self, wait_s: float) -> Event | None:
        """The next event, or None after ``wait_s`` seconds without one (time for a heartbeat).

        Raises ``Dropped`` once the subscriber has been dropped or closed.
        """
        while not self._items:
            if self.dropped or self.closed:
                raise Dropped()
            self._wake.clear()
            try:
                async with asyncio.timeout(wait_s):
                    await self._wake.wait()
            except TimeoutError:
                return None
        if self.dropped:
            raise Dropped()
        return self._items.popleft()

    @property
    def pending(self) -> int:
        return len(self._items)


@dataclass(slots=True)
class Channel:
    namespace: str
    name: str
    ring_events: int
    ring_bytes: int
    ring: deque[Event] = field(default_factory=deque)
    ring_size: int = 0  # bytes of data in the ring
    last_seq: int = 0
    subscribers: set[Subscriber] = field(default_factory=set)

    def append(self, data: str, published: int) -> Event:
        self.last_seq += 1
        event = Event(self.last_seq, data, published)
        self.ring.append(event)
        self.ring_size += event.size
        # Always keep the newest event, even alone over the byte budget.
        while len(self.ring) > 1 and (len(self.ring) > self.ring_events
                                      or self.ring_size > self.ring_bytes):
            self.ring_size -= self.ring.popleft().size
        return event

    def after(self, seq: int) -> list[Event]:
        """Events in the ring with a sequence number above ``seq`` (the ring is contiguous)."""
        if not self.ring or seq >= self.last_seq:
            return []
        start = max(0, seq + 1 - self.ring[0].seq)
        return list(itertools.islice(self.ring, start, None))

    @property
    def oldest_seq(self) -> int:
        return self.ring[0].seq if self.ring else self.last_seq + 1


@dataclass(frozen=True, slots=True)
class Subscribed:
    """What ``Hub.subscribe`` hands out: the subscriber and how its replay went.

    ``reset`` is None when the replay is exact, else why the reader may have missed events:
    ``"gap"`` (older events have left the ring) or ``"unknown"`` (the id is not this hub's).
    """

    subscriber: Subscriber
    replayed: int
    reset: str | None
    last_id: str  # the channel's newest id when the subscription began


class Hub:
    """Channels of one gateway. Everything here is synchronous and runs on the event loop,
    so a subscription's replay and its first live event can never overlap or leave a gap."""

    def __init__(self, settings: RealtimeSettings | None = None, epoch: str | None = None):
        self.settings = settings or RealtimeSettings()
        self.epoch = epoch or secrets.token_hex(4)
        self._channels: OrderedDict[tuple[str, str], Channel] = OrderedDict()
        self.subscribers = 0
        self.delivered = 0
        self.dropped = 0
        self._closed = False

    def event_id(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    def parse_id(self, value: str | None) -> int | None:
        """The sequence number in one of our ids; None for an id of another epoch or none."""
        if not value:
            return None
        epoch, _, seq = value.strip().rpartition("-")
        if epoch != self.epoch or not seq.isdigit():
            return None
        return int(seq)

    def find(self, namespace: str, name: str) -> Channel | None:
        return self._channels.get((namespace, name))

    def channel(self, namespace: str, name: str) -> Channel:
        key = (namespace, name)
        channel = self._channels.get(key)
        if channel is None:
            channel = Channel(namespace, name, self.settings.ring_events,
                              self.settings.ring_bytes)
            self._channels[key] = channel
            self._forget_idle()
        else:
            self._channels.move_to_end(key)
        return channel

    def _forget_idle(self) -> None:
        """Past ``max_channels``, forget the least recently used channels nobody reads."""
        excess = len(self._channels) - self.settings.max_channels
        if excess <= 0:
            return
        for key in [k for k, c in self._channels.items() if not c.subscribers][:excess]:
            del self._channels[key]

    def deliver(self, namespace: str, name: str, data: str, published: int) -> Event:
        """Append an event to the channel's ring and offer it to every subscriber."""
        channel = self.channel(namespace, name)
        event = channel.append(data, published)
        for subscriber in list(channel.subscribers):
            if subscriber.offer(event):
                self.delivered += 1
            else:
                self._remove(subscriber)
                self.dropped += 1
                logger.info("realtime subscriber dropped: too far behind",
                            namespace=namespace, channel=name)
        return event

    def subscribe(self, namespace: str, name: str, last_event_id: str | None = None
                  ) -> Subscribed:
        """A new subscriber, with the ring's events after ``last_event_id`` queued first.

        Raises ``ServiceUnavailable`` past ``max_subscribers`` or once the hub is closed.
        """
        if self._closed or self.subscribers >= self.settings.max_subscribers:
            raise ServiceUnavailable("Too many realtime subscribers; try again later.")
        channel = self.channel(namespace, name)
        reset: str | None = None
        replay: list[Event] = []
        if last_event_id:
            seq = self.parse_id(last_event_id)
            if seq is None or seq > channel.last_seq:
                reset, replay = "unknown", list(channel.ring)
            else:
                replay = channel.after(seq)
                if seq + 1 < channel.oldest_seq:
                    reset = "gap"
        subscriber = Subscriber(channel, replay, self.settings.queue_events)
        channel.subscribers.add(subscriber)
        self.subscribers += 1
        return Subscribed(subscriber, len(replay), reset, self.event_id(channel.last_seq))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.close()
        self._remove(subscriber)

    def _remove(self, subscriber: Subscriber) -> None:
        if subscriber in subscriber.channel.subscribers:
            subscriber.channel.subscribers.discard(subscriber)
            self.subscribers -= 1

    def close(self) -> None:
        """End every stream (shutdown); new subscriptions are refused. Idempotent."""
        self._closed = True
        for channel in self._channels.values():
            for subscriber in list(channel.subscribers):
                self.unsubscribe(subscriber)

    def stats(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "channels": len(self._channels),
                "subscribers": self.subscribers, "delivered": self.delivered,
                "dropped": self.dropped}

    def channels(self) -> Iterable[Channel]:
        return self._channels.values()


# -- the bus side ---------------------------------------------------------------------------


class Relay:
    """Publishes events to the bus and feeds the hub from it, in a consumer group of its own.

    ``start()``/``stop()`` (idempotent). A failing subscription is opened again with back-off;
    a message that cannot be decoded is logged and skipped.
    """

    RETRY_INITIAL_S = 0.2
    RETRY_MAX_S = 5.0

    def __init__(self, hub: Hub, bus: Bus, group: str) -> None:
        self.hub = hub
        self.bus = bus
        self.group = group
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def publish(self, namespace: str, channel: str, data: str, transid: str = "") -> None:
        """Raises ``ServiceUnavailable`` when the bus is down."""
        message = RealtimeMessage(namespace, channel, data, int(time.time() * 1000), transid)
        await self.bus.publish(TOPIC, message.to_bytes())

    async def start(self) -> None:
        if self._task is not None:
            return
        # Subscribe now, not in the task: an in-process bus keeps only what is published
        # after a group exists, and the first publish may come before the task runs.
        self._subscription = self.bus.subscribe(TOPIC, self.group)
        self._task = asyncio.create_task(self._consume(), name=f"realtime-relay-{self.group}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    async def _consume(self) -> None:
        delay = self.RETRY_INITIAL_S
        while True:
            if self._subscription is None:
                self._subscription = self.bus.subscribe(TOPIC, self.group)
            try:
                async for raw in self._subscription:
                    delay = self.RETRY_INITIAL_S
                    self._deliver(raw)
                return  # the bus closed the subscription: it is stopping
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("realtime relay: bus subscription failed; retrying",
                               error=repr(exc), delay_s=delay)
            with contextlib.suppress(Exception):
                await self._subscription.close()
            self._subscription = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.RETRY_MAX_S)

    def _deliver(self, raw: bytes) -> None:
        try:
            message = RealtimeMessage.from_bytes(raw)
        except MessageError as exc:
            logger.warning("realtime relay: message skipped", error=str(exc))
            return
        self.hub.deliver(message.namespace, message.channel, message.data, message.published)
