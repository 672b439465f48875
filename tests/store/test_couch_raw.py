"""The CouchDB store's raw keep-alive client for activation records (``_RawHttp``), against
a loopback server that frames its answers the ways HTTP/1.1 allows and closes idle
connections, as node does."""

from __future__ import annotations

import asyncio

from pwsk.store.couchdb import _RawHttp


def test_framings_reuse_and_a_connection_closed_while_idle() -> None:
    async def check() -> None:
        seen: list[bytes] = []
        connections = 0

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    writer.close()
                    return
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                seen.append(head.split(b"\r\n")[0] + b" " + body)
                if body == b'"chunked"':
                    writer.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"5\r\n{\"ok\"\r\n6\r\n:true}\r\n0\r\n\r\n")
                elif body == b'"close"':  # answers, then closes as if idle too long
                    writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
                    await writer.drain()
                    await asyncio.sleep(0.05)
                    writer.close()
                    return
                else:
                    writer.write(b"HTTP/1.1 409 Conflict\r\nContent-Length: 10\r\n\r\n"
                                 b'{"e":"no"}')

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        raw = _RawHttp("127.0.0.1", port, ("u", "p"))
        try:
            first = await raw.request("PUT", "/db/a", b'"chunked"')
            assert (first.status_code, first.content) == (201, b'{"ok":true}')
            second = await raw.request("PUT", "/db/b", b'"plain"')
            assert (second.status_code, second.text) == (409, '{"e":"no"}')
            assert connections == 1  # kept alive
            await raw.request("PUT", "/db/c", b'"close"')
            await asyncio.sleep(0.2)  # the server closed it while idle: a new one, no error
            again = await raw.request("PUT", "/db/d", b'"plain"')
            assert again.status_code == 409 and connections == 2
            assert [s.split(b" ")[1] for s in seen] == [b"/db/a", b"/db/b", b"/db/c", b"/db/d"]
        finally:
            raw.close()
            await asyncio.sleep(0.2)  # the handlers see the close and close their side
            server.close()
            await server.wait_closed()

    asyncio.run(check())
