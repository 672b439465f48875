"""One MQTT connection for the bridge: persistent session, QoS 1, manual acknowledgements.

aiomqtt acknowledges a QoS 1 message (PUBACK) as soon as paho reads it off the socket, before
the application has even seen it; a crash then loses it. aiomqtt has no switch for that, but
the paho client underneath does (``manual_ack_set``, then ``ack(mid, qos)``), and everything
here runs on the event loop thread that also drives paho's socket, so calling it is safe.
This module is the only place that reaches into aiomqtt's internals (its paho client and its
message queue); ``check_support()`` fails loudly if an aiomqtt upgrade moves them.

The socket gets TCP_NODELAY: with Nagle's algorithm a small PUBLISH or PUBACK can wait for the
previous packet's ACK, which turns a ~0.5 ms hop into tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any

import aiomqtt

from .config import BrokerSettings

QOS = 1
NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

Message = aiomqtt.Message
MqttError = aiomqtt.MqttError


def _paho(client: aiomqtt.Client) -> Any:
    paho = getattr(client, "_client", None)
    if paho is None or not hasattr(paho, "manual_ack_set") or not hasattr(paho, "ack"):
        raise RuntimeError(
            "this aiomqtt version does not expose its paho client with manual_ack_set/ack; "
            "the bridge needs them to acknowledge messages only once they are journaled"
        )
    return paho


def _queue(client: aiomqtt.Client) -> asyncio.Queue[Message]:
    queue = getattr(client, "_queue", None)
    if not isinstance(queue, asyncio.Queue):
        raise RuntimeError("this aiomqtt version keeps incoming messages somewhere unexpected")
    return queue


def _disconnected(client: aiomqtt.Client) -> asyncio.Future[None]:
    future = getattr(client, "_disconnected", None)
    if not isinstance(future, asyncio.Future):
        raise RuntimeError("this aiomqtt version does not signal disconnection as expected")
    return future


async def check_support() -> None:
    """Raise ``RuntimeError`` unless this aiomqtt allows manual acknowledgements."""
    client = aiomqtt.Client("127.0.0.1")
    _paho(client)
    _queue(client)
    _disconnected(client)


class Connection:
    """``async with Connection(settings) as conn``: connected, ready to ``subscribe``."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self._client: aiomqtt.Client | None = None
        self._paho: Any = None

    async def __aenter__(self) -> Connection:
        s = self.settings
        client = aiomqtt.Client(
            s.host, s.port,
            username=s.user, password=s.secret,
            identifier=s.client_id,
            clean_session=False,  # the broker keeps our subscriptions and queued messages
            keepalive=s.keepalive,
            timeout=10,
            tls_context=ssl.create_default_context() if s.tls else None,
            socket_options=[NODELAY],
        )
        paho = _paho(client)
        paho.manual_ack_set(True)
        await client.__aenter__()
        self._client, self._paho = client, paho
        return self

    async def __aexit__(self, *exc: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            # A lost connection has nothing left to say goodbye to.
            with contextlib.suppress(MqttError):
                await client.__aexit__(None, None, None)
            lost = _disconnected(client)
            if lost.done() and not lost.cancelled():
                lost.exception()  # read, so the loop does not report it as never retrieved

    def _require(self) -> aiomqtt.Client:
        if self._client is None:
            raise RuntimeError("not connected")
        return self._client

    async def subscribe(self, filters: list[str]) -> list[int]:
        """Subscribe at QoS 1; the QoS the broker granted per filter (128: refused)."""
        granted = await self._require().subscribe([(topic, QOS) for topic in filters])
        return [int(code if isinstance(code, int) else code.value) for code in granted]

    async def next(self, stop: asyncio.Future[Any] | None = None) -> Message | None:
        """The next message, or None once ``stop`` is done; ``MqttError`` when the connection
        is lost.

        Unlike aiomqtt's ``messages`` iterator this never loses a message to cancellation or
        to ``stop``: ``Queue.get`` leaves the item in the queue when it is cancelled.
        """
        client = self._require()
        queue = _queue(client)
        if not queue.empty() and (stop is None or not stop.done()):
            return queue.get_nowait()  # already read: no waiters to set up
        lost = _disconnected(client)
        get = asyncio.ensure_future(queue.get())
        waiters: set[asyncio.Future[Any]] = {get, lost}
        if stop is not None:
            waiters.add(stop)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not get.done():
                get.cancel()
                await asyncio.gather(get, return_exceptions=True)
        if get.done() and not get.cancelled():
            return get.result()
        if lost.done():
            reason = None if lost.cancelled() else lost.exception()
            raise MqttError(f"connection lost: {reason or 'disconnected'}") from reason
        return None

    def ack(self, message: Message) -> None:
        """PUBACK (or PUBCOMP) for ``message``; call it in the order messages arrived."""
        if message.qos > 0 and self._client is not None:
            self._paho.ack(message.mid, message.qos)

    def leftovers(self) -> list[Message]:
        """Messages paho already read but nobody has taken yet (not acknowledged)."""
        if self._client is None:
            return []
        queue = _queue(self._client)
        taken: list[Message] = []
        while not queue.empty():
            taken.append(queue.get_nowait())
        return taken
