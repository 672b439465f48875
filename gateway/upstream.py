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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from pwsk.http1 import Conn, Head, Pool, parse_head

IDLE_S = 2.0  # an idle connection older than this is closed rather than reused
POOL_MAX = 64  # idle connections kept per controller
CHUNK = 64 * 1024


class UpstreamConnectError(Exception):
    """No connection could be opened: the next controller may be tried."""


class UpstreamError(Exception):
    """The exchange failed after the request was (maybe) sent: not retried."""


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
        self._pool = Pool(self.host, self.port, IDLE_S, POOL_MAX, limit=CHUNK * 4)

    async def _connection(self) -> Conn:
        conn = self._pool.idle()
        if conn is not None:
            return conn
        try:
            return await self._pool.connect(self.connect_timeout_s)
        except (OSError, TimeoutError) as exc:
            raise UpstreamConnectError(repr(exc)) from exc

    def close(self) -> None:
        self._pool.close()

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
                answer = await self._head(conn.reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                IndexError, TimeoutError) as exc:
            conn.close()
            raise UpstreamError(repr(exc)) from exc
        status, raw_headers, length = answer.status, answer.headers, answer.length
        chunked, close = answer.chunked, answer.close
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

    def _done(self, conn: Conn, close: bool) -> None:
        if close:
            conn.close()
        else:
            self._pool.release(conn)

    @staticmethod
    async def _head(reader: asyncio.StreamReader) -> Head:
        while True:
            head = parse_head(await reader.readuntil(b"\r\n\r\n"))
            if head.status >= 200 or head.status == 101:
                return head  # 1xx heads (100 Continue) are not the answer

    async def _stream(self, conn: Conn, chunked: bool, length: int | None,
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
                self._pool.release(conn)
            else:
                conn.close()


