"""What pwsk's own HTTP/1.1 clients share: pooled keep-alive connections and the answer head.

Three hops are too hot for a general client (httpx cost ~1-2 ms of CPU per call there): the
invoker → proxy ``/run``, the gateway → controller forward and the activation record PUT to
CouchDB. Each writes a request in one send and reads the head in one ``readuntil``; they
differ in how they read bodies and what a failure means, so only the connection pool and the
head parser live here.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from dataclasses import dataclass, field


async def open_nodelay(host: str, port: int,
                       limit: int = 2**16) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection with TCP_NODELAY (a small request must not wait for an ACK)."""
    reader, writer = await asyncio.open_connection(host, port, limit=limit)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


@dataclass(eq=False, slots=True)
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    rested: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Idle keep-alive connections to one server. One is reused only if the server has not
    closed it and it rested less than ``idle_s`` (servers close idle ones after a while:
    uvicorn and node after 5 s); at most ``max_idle`` are kept."""

    def __init__(self, host: str, port: int, idle_s: float, max_idle: int,
                 limit: int = 2**16) -> None:
        self.host, self.port = host, port
        self.idle_s, self.max_idle, self.limit = idle_s, max_idle, limit
        self._idle: deque[Conn] = deque()

    def idle(self) -> Conn | None:
        """The most recently rested usable connection, closing stale ones on the way."""
        while self._idle:
            conn = self._idle.pop()
            if (not conn.writer.is_closing() and not conn.reader.at_eof()
                    and time.monotonic() - conn.rested < self.idle_s):
                return conn
            conn.close()
        return None

    async def connect(self, timeout_s: float) -> Conn:
        async with asyncio.timeout(timeout_s):
            return Conn(*await open_nodelay(self.host, self.port, self.limit))

    def release(self, conn: Conn) -> None:
        """Back to the pool after a complete exchange (closed if the pool is full)."""
        if len(self._idle) < self.max_idle and not conn.writer.is_closing():
            conn.rested = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


@dataclass(slots=True)
class Head:
    """A response head: status, headers as received, and how its body is framed."""

    status: int
    headers: list[tuple[bytes, bytes]]
    length: int | None  # Content-Length
    chunked: bool
    close: bool  # Connection: close


def parse_head(block: bytes) -> Head:
    """The head read up to its empty line (``block`` ends with CRLF CRLF). ``ValueError``
    for a status line or a Content-Length that is not HTTP's."""
    status_line, *lines = block[:-4].split(b"\r\n")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError(f"bad status line {status_line[:80]!r}")
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = close = False
    for line in lines:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        headers.append((name, value))
        key = name.lower()
        if key == b"content-length":
            if not value.isdigit():
                raise ValueError(f"bad content-length {value[:40]!r}")
            length = int(value)
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif key == b"connection" and b"close" in value.lower():
            close = True
    return Head(int(parts[1]), headers, length, chunked, close)
