"""The gateway: the edge in front of one or more controllers.

Every request is forwarded to a controller; a controller that refuses connections is
skipped for ``RETRY_AFTER_S`` and the request goes to the next one, so a restarting
controller costs callers nothing but a retry. Requests whose body was already sent are not
retried (a POST may have started an activation). Responses stream back unchanged.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from pwsk import tid
from pwsk.errors import Messages
from pwsk.limits import MAX_HTTP_BODY

from .edge import Edge
from .upstream import Upstream, UpstreamConnectError, UpstreamError

RETRY_AFTER_S = 5.0
# A response of known length up to this size is read whole and sent in one piece; a
# streamed one costs a task group (to notice the client leaving) and a send per chunk, a
# fifth of the gateway's CPU per warm invoke.
BUFFER_MAX = 2 * 1024 * 1024
NO_BODY = {204, 304}
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade",
               "proxy-authorization", "proxy-authenticate", "trailer", "host",
               "content-length"}


class Upstreams:
    """Controllers in round-robin order, minus those recently unreachable."""

    def __init__(self, urls: list[str]) -> None:
        if not urls:
            raise ValueError("the gateway needs at least one controller URL")
        self.urls = [u.rstrip("/") for u in urls]
        self._down: dict[str, float] = {}
        self._next = itertools.cycle(range(len(self.urls)))

    def order(self) -> list[str]:
        start = next(self._next)
        rotated = self.urls[start:] + self.urls[:start]
        now = time.monotonic()
        up = [u for u in rotated if self._down.get(u, 0) <= now]
        return up + [u for u in rotated if u not in up]

    def mark_down(self, url: str) -> None:
        self._down[url] = time.monotonic() + RETRY_AFTER_S


def create_gateway(controllers: list[str]) -> FastAPI:
    upstreams = Upstreams(controllers)
    links = {url: Upstream(url) for url in upstreams.urls}
    client = httpx.AsyncClient(timeout=httpx.Timeout(connect=2.0, read=330.0, write=60.0,
                                                     pool=10.0),
                               limits=httpx.Limits(max_keepalive_connections=100))

    edge = Edge.for_gateway(client, upstreams.order)  # realtime channel, dashboard

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await edge.start(close_on_signals=True)
        try:
            yield
        finally:
            await edge.stop()
            await client.aclose()
            for link in links.values():
                link.close()

    app = FastAPI(title="pwsk gateway", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None,  # no OpenTelemetry provider: FastAPI's hooks off
                  telemetry={"tracing": False, "metrics": False, "logs": False,
                             "operation_spans": False})
    edge.install(app)  # before the catch-all below

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
                                            "OPTIONS"], include_in_schema=False)
    async def forward(path: str, request: Request) -> Response:
        transid = tid.from_header(request.headers.get("x-request-id"))
        body = await request.body()
        if len(body) > MAX_HTTP_BODY:
            return JSONResponse({"error": "Request Entity Too Large", "code": transid}, 413)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_HEADERS
                   and k.lower() != "x-request-id"]
        headers.append(("x-request-id", transid))
        headers.append(("x-forwarded-for", request.client.host if request.client else ""))
        target = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        target_str = (target + (b"?" + query if query else b"")).decode("latin-1")
        for url in upstreams.order():
            try:
                answer = await links[url].request(request.method, target_str, headers, body,
                                                  BUFFER_MAX)
            except UpstreamConnectError:
                upstreams.mark_down(url)
                continue
            except UpstreamError:  # it died or stalled mid-request: not retried (a POST)
                return JSONResponse({"error": Messages.OVERLOADED, "code": transid}, 503)
            # Every header line as it came (repeated ones such as Set-Cookie stay separate).
            headers_out = [(k, v) for k, v in answer.headers
                           if k.decode("latin-1").lower() not in HOP_HEADERS]
            if answer.body is not None:
                whole = Response(answer.body, status_code=answer.status)
                whole.raw_headers = headers_out
                if answer.status not in NO_BODY and request.method != "HEAD":
                    whole.raw_headers.append((b"content-length", str(len(answer.body)).encode()))
                elif request.method == "HEAD":  # the size a GET would have
                    whole.raw_headers += [(k, v) for k, v in answer.headers
                                          if k.lower() == b"content-length"]
                return whole
            assert answer.stream is not None
            out = StreamingResponse(answer.stream, status_code=answer.status)
            out.raw_headers = headers_out
            return out
        return JSONResponse({"error": Messages.OVERLOADED, "code": transid}, 503)

    return app

