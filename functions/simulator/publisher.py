"""Publishing a brew over MQTT: ``brewery/<tank>/<sensor>``, JSON payloads, QoS 1.

Simulated time runs ``time_scale`` times faster than the wall clock (0: as fast as the broker
takes it). Each payload's ``timestamp`` is the wall clock when it was sent, as a real sensor's
would be, so a dashboard and the stored history line up with real time.

A lost broker connection is retried with back-off; readings that fall due while there is no
connection are skipped and counted in a warning, since a sensor has no memory either.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson

from .model import Simulator, Step

log = logging.getLogger("functions.simulator")

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
RECONNECT_MAX_S = 5.0


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"broker {url!r}: expected mqtt://[user[:password]@]host[:port]")
        try:
            port = parts.port or 1883
        except ValueError:
            raise ValueError(f"broker {url!r}: the port is not a number") from None
        return cls(parts.hostname, port,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


@dataclass
class Published:
    steps: int = 0
    messages: int = 0
    skipped: int = 0  # readings that fell due while the broker was away
    reconnects: int = 0


async def _send(client: aiomqtt.Client, step: Step, prefix: str, ack_timeout: float) -> int:
    now_ms = int(time.time() * 1000)
    for reading in step.readings:
        payload = orjson.dumps(reading.payload(now_ms))
        # aiomqtt waits for the PUBACK without watching the connection: the timeout is how a
        # vanished broker gets noticed.
        await client.publish(f"{prefix}/{reading.topic_suffix}", payload, qos=1,
                             timeout=ack_timeout)
    return len(step.readings)


@contextlib.contextmanager
def closed_socket_races_tolerated() -> Iterator[None]:
    """aiomqtt hands paho's "register for writing" to the loop with ``call_soon_threadsafe``;
    when a dying connection's socket is closed before that callback runs, the callback fails
    on the closed descriptor ("Exception in callback"). The connection is being replaced
    anyway, so that one error is dropped here; every other one goes to the loop's handler."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if (isinstance(exc, OSError) and exc.errno == errno.EBADF
                and ".add_writer(" in str(context.get("message", ""))):
            log.debug("ignored a write registration for a closed MQTT socket: %r", exc)
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


async def publish(simulator: Simulator, broker: BrokerAddress, *, time_scale: float = 60.0,
                  prefix: str = "brewery", client_id: str | None = None,
                  ack_timeout: float = 5.0,
                  on_step: Callable[[Step], None] | None = None) -> Published:
    """Run one brew against ``broker``; returns what was sent. A PUBACK that takes longer
    than ``ack_timeout`` seconds counts as a lost connection."""
    if time_scale < 0:
        raise ValueError("time_scale must be >= 0")
    with closed_socket_races_tolerated():
        return await _publish(simulator, broker, time_scale, prefix, client_id, ack_timeout,
                              on_step)


async def _publish(simulator: Simulator, broker: BrokerAddress, time_scale: float, prefix: str,
                   client_id: str | None, ack_timeout: float,
                   on_step: Callable[[Step], None] | None) -> Published:
    done = Published()
    steps = simulator.steps()
    step = next(steps, None)
    started = time.monotonic()
    delay = 0.1
    while step is not None:
        client = aiomqtt.Client(broker.host, broker.port, username=broker.username,
                                password=broker.password, identifier=client_id,
                                timeout=ack_timeout, socket_options=[NODELAY])
        try:
            async with client:
                delay = 0.1
                while step is not None:
                    if time_scale and (wait := started + step.t / time_scale
                                       - time.monotonic()) > 0:
                        await asyncio.sleep(wait)
                    done.messages += await _send(client, step, prefix, ack_timeout)
                    done.steps += 1
                    if on_step is not None:
                        on_step(step)
                    step = next(steps, None)
        except aiomqtt.MqttError as exc:
            _forget_disconnect_reason(client)
            done.reconnects += 1
            log.warning("broker %s:%d: %s; reconnecting in %.1fs", broker.host, broker.port,
                        exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)
            if time_scale:
                # What fell due meanwhile is skipped, so the brew keeps the wall clock's pace.
                now_t = (time.monotonic() - started) * time_scale
                skipped = 0
                while step is not None and step.t + simulator.interval < now_t:
                    step = next(steps, None)
                    skipped += 1
                if skipped:
                    done.skipped += skipped
                    log.warning("skipped %d reading set(s) while the broker was away", skipped)
    return done


def _forget_disconnect_reason(client: aiomqtt.Client) -> None:
    # aiomqtt keeps why a connection dropped in a future nobody reads once a publish timed
    # out instead; reading it here spares the loop a "never retrieved" error at exit.
    future = getattr(client, "_disconnected", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


def print_brew(simulator: Simulator, *, prefix: str = "brewery",
               write: Callable[[str], None] = print) -> int:
    """``--stdout``: the brew as JSON lines (``{"t", "phase", "topic", payload...}``), with
    ``timestamp`` in simulated milliseconds since mash-in."""
    count = 0
    for step in simulator.steps():
        for reading in step.readings:
            line = {"t": step.t, "phase": step.phase, "topic": f"{prefix}/{reading.topic_suffix}",
                    **reading.payload(int(step.t * 1000))}
            write(orjson.dumps(line).decode())
            count += 1
    return count
