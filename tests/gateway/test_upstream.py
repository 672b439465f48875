"""The gateway's raw HTTP/1.1 client for the controller hop, against a loopback server that
answers with every framing uvicorn (or a web action behind it) may use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.upstream import Upstream, UpstreamConnectError, UpstreamError
from tests.servers import free_port

pytestmark = pytest.mark.anyio

Handler = Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


class Loopback:
    """Answers each request with ``handler``; counts connections; keeps them alive unless
    the handler returns False."""

    def __init__(self, handler: Handler) -> None:
        self.handler, self.connections, self.requests = handler, 0, []  # type: ignore[var-annotated]
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if not await self.handler(head, reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


async def serving(handler: Handler) -> tuple[Loopback, Upstream]:
    loop = Loopback(handler)
    return loop, Upstream(await loop.start())


async def collect(stream: AsyncIterator[bytes] | None) -> bytes:
    assert stream is not None
    return b"".join([piece async for piece in stream])


def answer(writer: asyncio.StreamWriter, data: bytes) -> bool:
    writer.write(data)
    return True


async def test_content_length_bodies_reuse_one_connection() -> None:
    async def handler(head: bytes, _: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        return answer(w, b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nSet-Cookie: a=1\r\n"
                         b"Set-Cookie: b=2\r\n\r\n{\"x\":1}")

    server, up = await serving(handler)
    try:
        for _ in range(3):
            got = await up.request("POST", "/api/v1/x?blocking=true", [("expect", "100-continue"),
                                                                       ("x-a", "1")],
                                   b'{"v":1}', 1024)
            assert got.status == 200 and got.body == b'{"x":1}'
            assert [v for k, v in got.headers if k == b"Set-Cookie"] == [b"a=1", b"b=2"]
        assert server.connections == 1
        sent = server.requests[0]
        assert sent.startswith(b"POST /api/v1/x?blocking=true HTTP/1.1\r\n")
        assert b"expect" not in sent.lower() and b"x-a: 1" in sent
        assert sent.endswith(b'content-length: 7\r\n\r\n{"v":1}')
    finally:
        up.close()
        await server.stop()


async def test_chunked_close_framed_large_and_bodiless_answers() -> None:
    async def handler(head: bytes, _: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        path = head.split(b" ")[1]
        if path == b"/chunked":
            return answer(w, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
        if path == b"/large":
            return answer(w, b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n"
                          + b"z" * 300_000)
        if path == b"/empty":
            return answer(w, b"HTTP/1.1 204 No Content\r\n\r\n")
        if path == b"/head":
            return answer(w, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
        if path == b"/continue":
            return answer(w, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                             b"Content-Length: 2\r\n\r\nok")
        w.write(b"HTTP/1.1 200 OK\r\n\r\nuntil the close")
        return False

    server, up = await serving(handler)
    try:
        got = await up.request("GET", "/chunked", [], b"", 1024)
        assert got.body is None and await collect(got.stream) == b"abcde"
        got = await up.request("GET", "/large", [], b"", 1024)
        assert got.body is None and await collect(got.stream) == b"z" * 300_000
        got = await up.request("GET", "/empty", [], b"", 1024)
        assert (got.status, got.body) == (204, b"")
        got = await up.request("HEAD", "/head", [], b"", 1024)
        assert (got.status, got.body) == (200, b"")
        got = await up.request("POST", "/continue", [], b"x", 1024)
        assert (got.status, got.body) == (201, b"ok")
        assert server.connections == 1  # every answer above left the connection reusable
        got = await up.request("GET", "/close", [], b"", 1024)
        assert await collect(got.stream) == b"until the close"
        got = await up.request("GET", "/empty", [], b"", 1024)
        assert got.status == 204 and server.connections == 2  # a new one after the close
    finally:
        up.close()
        await server.stop()


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def handler(head: bytes, _: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return False  # closes after answering, without saying so

    server, up = await serving(handler)
    try:
        for _ in range(3):
            assert (await up.request("GET", "/", [], b"", 1024)).body == b"ok"
            await asyncio.sleep(0.05)  # the close arrives while the connection rests
        assert server.connections == 3
    finally:
        up.close()
        await server.stop()


async def test_refused_is_a_connect_error_and_a_broken_answer_an_upstream_error() -> None:
    with pytest.raises(UpstreamConnectError):
        await Upstream(f"http://127.0.0.1:{free_port()}").request("GET", "/", [], b"", 1024)

    async def handler(head: bytes, _: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
        return False

    server, up = await serving(handler)
    try:
        with pytest.raises(UpstreamError):
            await up.request("POST", "/", [], b"{}", 1024)
        assert len(server.requests) == 1  # sent once, never retried
    finally:
        up.close()
        await server.stop()
