"""An in-process MQTT broker (amqtt) for the standalone demo and for tests.

    async with EmbeddedBroker() as broker:       # a free loopback port
        print(broker.url)                        # mqtt://127.0.0.1:41235

The broker keeps QoS 1 messages for a disconnected client that connected with
``clean_session`` false, so the bridge's persistent session works against it as it does against
Mosquitto. amqtt only does that for clients that are *not* anonymous, and its stock anonymous
plugin marks every session anonymous, so this wrapper installs its own authentication plugin:
any client when ``users`` is empty, else only a listed user with the right password.

Limits of amqtt worth knowing (Mosquitto has none of them): messages live in memory only (a
restart forgets sessions), and a QoS 1 message whose PUBACK does not arrive within 5 s, or
whose connection drops before it, is not delivered again. The bridge's journal (see
``bridge.journal``) is what keeps messages safe across those cases.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

LOOPBACK = "127.0.0.1"
LISTENER = "default"
log = logging.getLogger("bridge.broker")


class UserListAuth(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type hints
    """Accept every client when no users are configured, else check user and password.

    Never marks a session anonymous, so persistent sessions keep their offline messages.
    """

    @dataclass
    class Config:
        users: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool | None:
        users: dict[str, str] = getattr(self.context.config, "users", {})
        if not users:
            return True
        expected = users.get(session.username or "")
        given = session.password or ""
        return expected is not None and hmac.compare_digest(expected.encode(), given.encode())


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedBroker:
    """amqtt on a loopback port with ``start()``/``stop()``/``async with``.

    ``port=0`` picks a free port at ``start()``; the chosen one is kept, so a stopped broker
    starts again on the same address (clients reconnect to it). ``stop()`` is idempotent.

    The listening socket is ours, not amqtt's (an "external" listener): amqtt's own shutdown
    can wait forever for a client that keeps publishing (a cancelled read is sometimes
    swallowed), so ``stop()`` first cuts every connection, which ends each session at once.
    """

    def __init__(self, host: str = LOOPBACK, port: int = 0,
                 users: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self.users = dict(users or {})
        self._broker: Broker | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._broker is not None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {LISTENER: {"type": "external", "bind": f"{self.host}:{self.port}"}},
            # Only our authentication; no $SYS publisher, no packet logger.
            "plugins": {f"{__name__}.UserListAuth": {"users": self.users}},
        }

    async def start(self) -> None:
        if self._broker is not None:
            return
        if not self.port:
            self.port = free_port(self.host)
        broker = Broker(self._config())
        await broker.start()
        try:
            self._server = await asyncio.start_server(self._connected, self.host, self.port,
                                                      reuse_address=True)
        except OSError:
            await broker.shutdown()
            raise
        self._broker = broker

    async def _connected(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        broker = self._broker
        if broker is None:
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            await broker.external_connected(StreamReaderAdapter(reader),
                                            StreamWriterAdapter(writer), LISTENER)
        except Exception as exc:  # one client's trouble must not reach the event loop
            log.debug("MQTT connection ended: %r", exc)
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if broker is not None:
            await broker.shutdown()
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
