"""The invoker's HTTP/1.1 client for the proxy hop, against a scripted loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from invoker.http import ProxyConnection, ProxyHttpError

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    return await reader.readexactly(length)


def _serve(replies: list[bytes | None]) -> Callable[[], Awaitable[list[bytes]]]:
    """Answer request i with replies[i] (None: close without answering); returns bodies."""
    async def run() -> list[bytes]:
        seen: list[bytes] = []
        queue = list(replies)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while queue:
                    seen.append(await _read_request(reader))
                    reply = queue.pop(0)
                    if reply is None:
                        break
                    writer.write(reply)
                    await writer.drain()
                    if b"Connection: close" in reply:
                        break
            except asyncio.IncompleteReadError:
                pass
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = ProxyConnection("127.0.0.1", port)
        results.clear()
        for _ in replies:
            try:
                results.append(await conn.post("/run", b'{"value": {}}', 5))
            except ProxyHttpError as exc:
                results.append(exc)
        conn.close()
        server.close()
        await server.wait_closed()
        return seen

    results: list[object] = []
    run.results = results  # type: ignore[attr-defined]
    return run


def test_content_length_chunked_and_keep_alive() -> None:
    run = _serve([
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
        b"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n{\"e\"\r\n5\r\n:\"x\"}\r\n0\r\n\r\n",
    ])
    seen = asyncio.run(run())
    assert seen == [b'{"value": {}}'] * 2  # one connection, reused
    assert run.results == [(200, b'{"a":1}'), (502, b'{"e":"x"}')]  # type: ignore[attr-defined]


def test_a_closed_or_broken_connection_is_a_proxy_error() -> None:
    run = _serve([None])
    asyncio.run(run())
    [error] = run.results  # type: ignore[attr-defined]
    assert isinstance(error, ProxyHttpError)


@pytest.mark.parametrize("reply", [b"NOT HTTP\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Le"])
def test_garbage_or_truncated_heads_are_proxy_errors(reply: bytes) -> None:
    run = _serve([reply + b"\r\nConnection: close\r\n\r\n" if reply.startswith(b"NOT") else None])
    if reply.startswith(b"HTTP"):
        async def truncated() -> None:
            async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                await _read_request(r)
                w.write(reply)
                await w.drain()
                w.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            conn = ProxyConnection("127.0.0.1", server.sockets[0].getsockname()[1])
            with pytest.raises(ProxyHttpError, match="truncated"):
                await conn.post("/run", b"{}", 5)
            conn.close()
            server.close()
            await server.wait_closed()

        asyncio.run(truncated())
        return
    asyncio.run(run())
    [error] = run.results  # type: ignore[attr-defined]
    assert isinstance(error, ProxyHttpError) and "bad status line" in str(error)


def test_connection_close_then_a_fresh_connection() -> None:
    run = _serve([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"])
    asyncio.run(run())
    assert run.results == [(200, b"{}")]  # type: ignore[attr-defined]


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


def _two_posts(first_connection_after_one: str) -> tuple[list[bytes], list[object]]:
    """Two posts on one ProxyConnection. The first connection answers once, then either
    closes while idle ("idle") or reads the second request and closes unanswered ("read");
    later connections answer everything. Returns the bodies the server read and the results."""
    async def go() -> tuple[list[bytes], list[object]]:
        seen: list[bytes] = []
        connections = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            first = connections == 1
            try:
                while True:
                    seen.append(await _read_request(reader))
                    writer.write(OK)
                    await writer.drain()
                    if first and first_connection_after_one == "idle":
                        break
                    if first and first_connection_after_one == "read":
                        seen.append(await _read_request(reader))
                        break
            except asyncio.IncompleteReadError:
                pass
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        conn = ProxyConnection("127.0.0.1", server.sockets[0].getsockname()[1])
        results: list[object] = []
        for body in (b'{"n": 1}', b'{"n": 2}'):
            await asyncio.sleep(0.05)  # idle: the server's close reaches the client first
            try:
                results.append(await conn.post("/init", body, 5))
            except ProxyHttpError as exc:
                results.append(exc)
        conn.close()
        await asyncio.sleep(0.05)  # the handlers see EOF and close their transports
        server.close()
        await server.wait_closed()
        return seen, results

    return asyncio.run(go())


def test_a_connection_closed_while_idle_is_replaced_before_sending() -> None:
    seen, results = _two_posts("idle")
    assert results == [(200, b"{}"), (200, b"{}")]
    assert seen == [b'{"n": 1}', b'{"n": 2}']


def test_a_request_the_proxy_read_is_never_sent_again() -> None:
    # The proxy read the second request, then its connection broke: it may have acted on
    # it (an /init done, a /run run), so the client reports the error instead of resending.
    seen, results = _two_posts("read")
    assert results[0] == (200, b"{}") and isinstance(results[1], ProxyHttpError)
    assert seen == [b'{"n": 1}', b'{"n": 2}']
