"""The gateway's own routes: the realtime channel over HTTP and the dashboard.

    POST /realtime/{channel}                      publish one JSON event (≤ 64 KB) to the
                                                  caller's namespace; basic auth; 202
    GET  /realtime/{namespace}/{channel}/events   Server-Sent Events; public
    GET  /dashboard/                              the brewery dashboard (static files)
    GET  /dashboard/config.json                   what the page reads first

**Reading is public**, like an exported web action: the dashboard is a page anyone on the
network may open, and EventSource cannot send credentials of its own. What a namespace
publishes to a channel is therefore readable by whoever knows the namespace and channel
names; publish nothing secret (the brewery publishes sensor readings). Writing needs the
namespace's key.

The stream: a first ``hello`` event (``retry:`` for browsers, the channel's newest ``id:``,
and ``reset`` when the replay below cannot be exact), then the events the ring still holds
after ``Last-Event-ID`` (the header, which browsers send when they reconnect, or
``?lastEventId=``), then live events, with a comment line as heartbeat every ``heartbeat_s``
of silence. Each event is the published JSON as ``data:``, with ``id: <epoch>-<seq>``.

Authentication is injected (``Authenticate``): standalone passes its controller's
authenticator; the distributed gateway asks a controller (``ControllerAuth``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from pwsk import log, tid
from pwsk.bus import Bus, open_bus
from pwsk.errors import PayloadTooLarge, PwskError, ServiceUnavailable, Unauthenticated
from pwsk.settings import Settings

from .realtime import (
    Dropped,
    Hub,
    RealtimeSettings,
    Relay,
    Subscribed,
    check_channel,
    check_namespace,
    encode_json,
)

logger = log.get("pwsk.gateway.edge")

Authenticate = Callable[[str | None], Awaitable[str]]
"""``Authorization`` header → the caller's namespace; raises ``Unauthenticated`` (401)."""

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"
HEARTBEAT = b": heartbeat\n\n"
AUTH_TIMEOUT_S = 5.0


class DashboardSettings(BaseSettings):
    """What ``/dashboard/config.json`` tells the page; ``PWSK_DASHBOARD_*`` override."""

    model_config = SettingsConfigDict(env_prefix="PWSK_DASHBOARD_", extra="ignore")

    dir: Path = DASHBOARD_DIR
    namespace: str = "guest"
    package: str = "brewery"  # where get-latest and set-threshold live
    channel: str = "brewery"
    minutes: int = 60  # history loaded on start
    title: str = "Brewery"


# -- authentication -------------------------------------------------------------------------


class _HasNamespace(Protocol):
    @property
    def namespace(self) -> str: ...


def namespace_of(authenticate: Callable[[str | None], Awaitable[_HasNamespace]]
                 ) -> Authenticate:
    """Adapt an authenticator that returns an identity (the controller's) to ``Authenticate``."""

    async def namespace(header: str | None) -> str:
        return (await authenticate(header)).namespace

    return namespace


class ControllerAuth:
    """Ask a controller who a key belongs to (``GET /api/v1/namespaces``), cached ``ttl_s``.

    Only answers are cached, keyed by a hash of the header; a refused key is asked again each
    time, so a key created a moment ago works at once. Concurrent misses for one key share
    one request.
    """

    def __init__(self, client: httpx.AsyncClient, controllers: Callable[[], list[str]],
                 ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        self.client = client
        self.controllers = controllers
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[bytes, tuple[float, str]] = {}
        self._pending: dict[bytes, asyncio.Future[str]] = {}

    async def __call__(self, header: str | None) -> str:
        if not header:
            raise Unauthenticated(Unauthenticated.missing)
        key = hashlib.sha256(header.encode("utf-8", "replace")).digest()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            namespace = await self._ask(header)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(namespace)
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self.ttl_s, namespace)
        return namespace

    async def _ask(self, header: str) -> str:
        for url in self.controllers():
            try:
                response = await self.client.get(f"{url}/api/v1/namespaces",
                                                 headers={"authorization": header},
                                                 timeout=AUTH_TIMEOUT_S)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
            except httpx.HTTPError as exc:
                raise ServiceUnavailable("The controller did not answer in time.") from exc
            if response.status_code in (401, 403):
                raise Unauthenticated()
            if response.status_code == 200:
                with contextlib.suppress(ValueError):
                    namespaces = response.json()
                    if isinstance(namespaces, list) and namespaces:
                        return str(namespaces[0])
            raise ServiceUnavailable(f"The controller answered {response.status_code}.")
        raise ServiceUnavailable("No controller is reachable.")


# -- the stream -----------------------------------------------------------------------------


class EventStream(EventSourceResponse):
    """An SSE response that gives up on a reader who stops reading, and always tells the hub
    when it ends (Starlette drops the body iterator on a disconnect without closing it)."""

    def __init__(self, events: AsyncIterator[bytes], on_close: Callable[[], None],
                 write_timeout_s: float) -> None:
        super().__init__(events, headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})
        self._events = events
        self._on_close = on_close
        self._write_timeout_s = write_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        async for chunk in self._events:
            try:
                async with asyncio.timeout(self._write_timeout_s):
                    await send({"type": "http.response.body", "body": chunk,
                                "more_body": True})
            except TimeoutError:
                # The reader's buffers are full and it is not reading: end the response
                # unfinished, so the server closes the connection.
                logger.info("realtime stream closed: the reader stopped reading")
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _transid(request: Request) -> tuple[str, bool]:
    """The request's transaction id, and whether a middleware already answers with it."""
    given = request.scope.get("state", {}).get("tid")
    if given:
        return str(given), True
    return tid.from_header(request.headers.get("x-request-id")), False


def _error(exc: PwskError, request: Request) -> Response:
    transid, echoed = _transid(request)
    headers = {} if echoed else {"X-Request-ID": transid}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Basic realm="OpenWhisk secure realm"'
    return JSONResponse({"error": exc.message, "code": transid}, exc.status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit``."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"The event is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The event is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def gateway_group() -> str:
    """This gateway's consumer group: every gateway needs its own to see every event."""
    name = os.environ.get("PWSK_GATEWAY_ID") or (
        f"{socket.gethostname()}-{os.environ.get('PWSK_PORT', '3233')}")
    return f"realtime-{name}"


class Edge:
    """The realtime hub, its relay, the routes and the dashboard, with one lifecycle.

    ``install(app)`` adds the routes (before any catch-all route the app adds later);
    ``start()``/``stop()`` run the relay (and the bus when ``manage_bus``). ``close_streams()``
    ends every open stream: call it when shutdown begins, since servers wait for open
    responses to finish and an event stream never does on its own.
    """

    def __init__(self, bus: Bus, authenticate: Authenticate, *,
                 settings: RealtimeSettings | None = None,
                 dashboard: DashboardSettings | None = None, group: str | None = None,
                 manage_bus: bool = False) -> None:
        self.settings = settings or RealtimeSettings()
        self.dashboard = dashboard or DashboardSettings()
        self.hub = Hub(self.settings)
        self.bus = bus
        self.relay = Relay(self.hub, bus, group or f"realtime-{self.hub.epoch}")
        self.authenticate = authenticate
        self.manage_bus = manage_bus
        self._signals: dict[int, Any] = {}

    @classmethod
    def for_gateway(cls, client: httpx.AsyncClient, controllers: Callable[[], list[str]]
                    ) -> Edge:
        """The distributed gateway's edge: keys checked by a controller, the bus from
        ``PWSK_BUS`` (Kafka fans events out to every gateway)."""
        return cls(open_bus(Settings().bus), ControllerAuth(client, controllers),
                   group=gateway_group(), manage_bus=True)

    # lifecycle --------------------------------------------------------------------------

    async def start(self, close_on_signals: bool = False) -> None:
        """With ``close_on_signals``, SIGINT/SIGTERM also close the streams at once (for a
        server, like ``uvicorn.run``, whose own signal handling cannot be told to)."""
        if self.manage_bus:
            await self.bus.start()
        await self.relay.start()
        if close_on_signals:
            self._chain_signals()

    async def stop(self) -> None:
        self.close_streams()
        self._unchain_signals()
        await self.relay.stop()
        if self.manage_bus:
            await self.bus.stop()

    def close_streams(self) -> None:
        self.hub.close()

    def _chain_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue

            def handler(signum: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.close_streams)
                previous(signum, frame)

            self._signals[sig] = previous
            signal.signal(sig, handler)

    def _unchain_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._signals.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._signals.clear()

    # routes -----------------------------------------------------------------------------

    def install(self, app: FastAPI) -> None:
        app.include_router(self.router())
        if self.dashboard.dir.is_dir():  # not there in a wheel without the site: no page
            app.mount("/dashboard", StaticFiles(directory=self.dashboard.dir, html=True),
                      name="dashboard")

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)
        router.add_api_route("/realtime/{channel}", self.publish, methods=["POST"])
        router.add_api_route("/realtime/{namespace}/{channel}/events", self.events,
                             methods=["GET"])
        router.add_api_route("/realtime/{namespace}/{channel}", self.channel_info,
                             methods=["GET"])
        router.add_api_route("/dashboard", self.dashboard_root, methods=["GET"])
        router.add_api_route("/dashboard/config.json", self.dashboard_config, methods=["GET"])
        return router

    async def publish(self, channel: str, request: Request) -> Response:
        transid, echoed = _transid(request)
        try:
            namespace = await self.authenticate(request.headers.get("authorization"))
            check_channel(channel)
            limit = self.settings.max_event_bytes
            data = encode_json(await _read_body(request, limit), limit)
            await self.relay.publish(namespace, channel, data, transid)
        except PwskError as exc:
            return _error(exc, request)
        return JSONResponse({"namespace": namespace, "channel": channel}, 202,
                            headers=None if echoed else {"X-Request-ID": transid})

    async def events(self, namespace: str, channel: str, request: Request,
                     lastEventId: str | None = None) -> Response:
        try:
            check_namespace(namespace)
            check_channel(channel)
            last = request.headers.get("last-event-id") or lastEventId
            subscribed = self.hub.subscribe(namespace, channel, last)
        except PwskError as exc:
            return _error(exc, request)
        subscriber = subscribed.subscriber
        return EventStream(self._stream(subscribed),
                           on_close=lambda: self.hub.unsubscribe(subscriber),
                           write_timeout_s=self.settings.write_timeout_s)

    async def _stream(self, subscribed: Subscribed) -> AsyncIterator[bytes]:
        subscriber = subscribed.subscriber
        channel = subscriber.channel
        hello = {"namespace": channel.namespace, "channel": channel.name,
                 "last": subscribed.last_id, "replay": subscribed.replayed,
                 "reset": subscribed.reset, "heartbeat_s": self.settings.heartbeat_s}
        # The hello carries the newest id only when nothing is replayed, so a browser that
        # reconnects before the next event still asks for exactly what it missed.
        yield format_sse_event(data_str=orjson.dumps(hello).decode(), event="hello",
                               id=None if subscribed.replayed else subscribed.last_id,
                               retry=self.settings.retry_ms)
        heartbeat_s = self.settings.heartbeat_s
        while True:
            try:
                event = await subscriber.next(heartbeat_s)
            except Dropped:
                return
            if event is None:
                yield HEARTBEAT
            else:
                yield b"id: %s\ndata: %s\n\n" % (self.hub.event_id(event.seq).encode(),
                                                  event.data.encode())

    async def channel_info(self, namespace: str, channel: str, request: Request) -> Response:
        """The channel's newest id and how many read it now (public, like the stream)."""
        try:
            check_namespace(namespace)
            check_channel(channel)
        except PwskError as exc:
            return _error(exc, request)
        ch = self.hub.find(namespace, channel)
        return JSONResponse({"namespace": namespace, "channel": channel,
                             "last": self.hub.event_id(ch.last_seq if ch else 0),
                             "held": len(ch.ring) if ch else 0,
                             "subscribers": len(ch.subscribers) if ch else 0})

    async def dashboard_root(self) -> Response:
        return RedirectResponse("/dashboard/", status_code=308)

    async def dashboard_config(self) -> Response:
        d = self.dashboard
        return JSONResponse({"namespace": d.namespace, "package": d.package,
                             "channel": d.channel, "minutes": d.minutes, "title": d.title},
                            headers={"Cache-Control": "no-cache"})
