"""The gateway → controller hop: HTTP/1.1 over pooled keep-alive connections.

httpx (h11's pure-Python parser, anyio, the pool's bookkeeping) cost the gateway ~2 ms of
CPU per forwarded request on this machine, as much as the controller spent serving it.
This client writes each request in one send and reads the answer with one ``readuntil``
for the head, then the body as the controller frames it: ``Content-Length`` (read whole,
or streamed when large), chunked (streamed), or up to the close. Only what uvicorn answers
needs to be understood; the request's ``Expect`` header is dropped (the body goes at once,
so no ``100 Continue`` can come back) and 1xx heads are skipped anyway.

A connection returns to its controller's pool once its response has been read in full; an
idle one is reused only if the controller has not closed it and it rested less than
``IDLE_S`` (uvicorn closes idle connections after 5 s). A request is sent only once: after
the connection is open, any failure is the caller's 503 (a POST may have started an
activation), as before.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IDLE_S = 2.0  # an idle connection older than this is closed rather than reused
POOL_MAX = 64  # idle connections kept per controller
CHUNK = 64 * 1024


class UpstreamConnectError(Exception):
    """No connection could be opened: the next controller may be tried."""


class UpstreamError(Exception):
    """The exchange failed after the request was (maybe) sent: not retried."""


@dataclass(eq=False, slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    rested: float = field(default_factory=time.monotonic)

    def usable(self) -> bool:
        return (not self.writer.is_closing() and not self.reader.at_eof()
                and time.monotonic() - self.rested < IDLE_S)

    def close(self) -> None:
        self.writer.close()


@dataclass(slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]  # as received, hop-by-hop ones included
    body: bytes | None  # the whole body, or None when ``stream`` yields it
    stream: AsyncIterator[bytes] | None = None


class Upstream:
    """One controller: its address and its idle connections."""

    def __init__(self, url: str, connect_timeout_s: float = 2.0,
                 read_timeout_s: float = 330.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"unsupported controller URL {url!r} (http://host:port)")
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")  # a controller mounted below a path
        self.authority = f"{self.host}:{self.port}".encode()
        self.connect_timeout_s, self.read_timeout_s = connect_timeout_s, read_timeout_s
        self._idle: deque[_Conn] = deque()

    async def _connection(self) -> _Conn:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                reader, writer = await asyncio.open_connection(self.host, self.port,
                                                               limit=CHUNK * 4)
        except (OSError, TimeoutError) as exc:
            raise UpstreamConnectError(repr(exc)) from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(reader, writer)

    def _release(self, conn: _Conn) -> None:
        if len(self._idle) < POOL_MAX and not conn.writer.is_closing():
            conn.rested = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    async def request(self, method: str, target: str, headers: list[tuple[str, str]],
                      body: bytes, buffer_max: int) -> Answer:
        """Send one request; the answer's body is whole when its length is known and at
        most ``buffer_max``, else streamed (the connection is released at its end)."""
        conn = await self._connection()
        head = [f"{method} {self.prefix}{target} HTTP/1.1".encode("latin-1"),
                b"host: " + self.authority]
        for name, value in headers:
            if name.lower() != "expect":
                head.append(f"{name}: {value}".encode("latin-1"))
        head.append(b"content-length: " + str(len(body)).encode())
        try:
            conn.writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
            async with asyncio.timeout(self.read_timeout_s):
                status, raw_headers = await self._head(conn.reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                IndexError, TimeoutError) as exc:
            conn.close()
            raise UpstreamError(repr(exc)) from exc
        length: int | None = None
        chunked = close = False
        for key, raw in raw_headers:
            key = key.lower()
            if key == b"content-length":
                if not raw.isdigit():
                    conn.close()
                    raise UpstreamError(f"bad content-length {raw[:40]!r}")
                length = int(raw)
            elif key == b"transfer-encoding" and b"chunked" in raw.lower():
                chunked = True
            elif key == b"connection" and b"close" in raw.lower():
                close = True
        if method == "HEAD" or status in (204, 304):
            self._done(conn, close)
            return Answer(status, raw_headers, b"")
        if not chunked and length is not None and length <= buffer_max:
            try:
                async with asyncio.timeout(self.read_timeout_s):
                    data = await conn.reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                conn.close()
                raise UpstreamError(repr(exc)) from exc
            self._done(conn, close)
            return Answer(status, raw_headers, data)
        return Answer(status, raw_headers, None, self._stream(conn, chunked, length, close))

    def _done(self, conn: _Conn, close: bool) -> None:
        if close:
            conn.close()
        else:
            self._release(conn)

    async def _head(self, reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]]]:
        while True:
            block = await reader.readuntil(b"\r\n\r\n")
            status_line, *lines = block[:-4].split(b"\r\n")
            status = int(status_line.split(None, 2)[1])
            if status >= 200 or status == 101:
                break  # 1xx heads (100 Continue) are not the answer
        headers = []
        for line in lines:
            name, _, value = line.partition(b":")
            headers.append((name.strip(), value.strip()))
        return status, headers

    async def _stream(self, conn: _Conn, chunked: bool, length: int | None,
                      close: bool) -> AsyncIterator[bytes]:
        reader, complete = conn.reader, False
        try:
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                    if size == 0:
                        while await reader.readuntil(b"\r\n") != b"\r\n":
                            pass  # trailers
                        break
                    yield await reader.readexactly(size)
                    await reader.readexactly(2)
            elif length is not None:
                left = length
                while left:
                    piece = await reader.read(min(left, CHUNK))
                    if not piece:
                        raise asyncio.IncompleteReadError(b"", left)
                    left -= len(piece)
                    yield piece
            else:  # framed by the close
                close = True
                while piece := await reader.read(CHUNK):
                    yield piece
            complete = True
        finally:
            if complete and not close:
                self._release(conn)
            else:
                conn.close()


