"""A tiny HTTP/1.1 client for the invoker → proxy hop.

One keep-alive connection per container, used by one activation at a time, TCP_NODELAY
on. A general client (httpx) costs ~1 ms per call on this path; this one is a write and a
read. It speaks just what the proxies answer: a status line, headers, and a body framed by
Content-Length or chunked encoding, or ended by closing the connection.
"""

from __future__ import annotations

import asyncio
import contextlib

from pwsk.http1 import open_nodelay, parse_head

MAX_BODY = 64 * 1024 * 1024  # far above the 1 MB result cap: we still report the real size
HEAD_OF_TOO_LARGE = 1024 * 1024  # what is kept of a larger one (the result cap)


class ProxyHttpError(Exception):
    """The proxy closed the connection or spoke something that is not HTTP."""


class ResponseTooLarge(Exception):
    """The proxy answered more than ``MAX_BODY`` (at least ``size`` bytes); ``head`` is what
    was read of it. The connection is closed, and the request is not retried."""

    def __init__(self, size: int, head: bytes) -> None:
        super().__init__(f"response of {size} bytes is too large")
        self.size, self.head = size, head


class ProxyConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await open_nodelay(self.host, self.port, limit=1024 * 1024)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def post(self, path: str, body: bytes, timeout_s: float) -> tuple[int, bytes]:
        """POST JSON; raises ``TimeoutError`` after ``timeout_s``, ``ProxyHttpError`` on EOF."""
        async with asyncio.timeout(timeout_s):
            # A connection the proxy closed while idle is seen (EOF already read) and replaced
            # before anything is sent. A request is never sent twice: once written, the proxy
            # may have acted on it (a second /init is refused, a second /run runs the action
            # again), so a failure after that is the proxy's error.
            if self._reader is not None and (self._reader.at_eof() or self._writer is None
                                             or self._writer.is_closing()):
                self.close()
            try:
                if self._writer is None:
                    await self._connect()
                return await self._exchange(path, body)
            except (ProxyHttpError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.close()
                raise ProxyHttpError(str(exc) or type(exc).__name__) from exc

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self._writer.write(head.encode("latin-1") + body)
        await self._writer.drain()
        reader = self._reader
        # The whole head in one read: the proxies (http.server, Node's http) end lines
        # with CRLF, so the head ends at the first empty line.
        try:
            head_block = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise ProxyHttpError("connection closed" if not exc.partial
                                 else f"truncated response head {exc.partial[:80]!r}") from None
        except asyncio.LimitOverrunError:
            raise ProxyHttpError("response head too large") from None
        try:
            answer = parse_head(head_block)
        except ValueError as exc:
            raise ProxyHttpError(str(exc)) from None
        status, length, close = answer.status, answer.length, answer.close
        if answer.chunked:
            try:
                data = await self._read_chunked(reader)
            except ResponseTooLarge:
                self.close()
                raise
        elif length is not None:
            if length > MAX_BODY:
                kept = await reader.readexactly(HEAD_OF_TOO_LARGE)
                self.close()
                raise ResponseTooLarge(length, kept)
            data = await reader.readexactly(length)
        else:
            data = await reader.read(MAX_BODY)
            close = True
        if close:
            self.close()
        return status, data

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                with contextlib.suppress(asyncio.IncompleteReadError):
                    await reader.readuntil(b"\r\n")
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise ResponseTooLarge(total, b"".join(chunks)[:HEAD_OF_TOO_LARGE])
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
