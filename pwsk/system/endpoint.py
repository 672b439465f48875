"""The alarms provider's HTTP endpoint, where the feed actions deliver lifecycle events.

    POST /alarms   body {lifecycleEvent, triggerName, type, ...feed parameters},
                   basic auth: the trigger owner's key (the feed's ``authKey``)
                   → 200 with the event's result, or {"error": message} with a 4xx/5xx
    GET  /health   → {"status": "up", "alarms": n, "active": m}

It listens on loopback only, on a port of its own (the one it had before if that is still
free, so the package parameter that carries the address rarely changes).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pwsk import log
from pwsk.errors import Messages, PwskError
from pwsk.limits import MAX_PAYLOAD_SIZE

from .alarms import AlarmsProvider

logger = log.get("pwsk.system.endpoint")
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def create_app(provider: AlarmsProvider) -> Starlette:
    async def alarms(request: Request) -> Response:
        auth_key = _basic(request.headers.get("authorization"))
        if auth_key is None:
            return _error(401, Messages.AUTH_MISSING)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_PAYLOAD_SIZE:
            return _error(413, "the request is larger than allowed")
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return _error(400, "the request body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "the request body must be a JSON object")
        event, trigger = body.pop("lifecycleEvent", "CREATE"), body.pop("triggerName", None)
        try:
            result = await provider.handle(event, trigger, auth_key, body)
        except PwskError as exc:
            return _error(exc.status, exc.message)
        except Exception:
            logger.exception("alarm lifecycle event failed", event=event, trigger=trigger)
            return _error(500, "Internal server error")
        return JSONResponse(result)

    async def health(_: Request) -> Response:
        alarms = provider.alarms()
        return JSONResponse({"status": "up", "alarms": len(alarms),
                             "active": sum(1 for a in alarms if a.active)})

    return Starlette(routes=[Route("/alarms", alarms, methods=["POST"]),
                             Route("/health", health, methods=["GET"])])


class _Server(uvicorn.Server):
    """uvicorn without signal handling: the process that embeds it owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Endpoint:
    """Serves ``create_app(provider)`` in the running event loop: ``start`` / ``stop``."""

    def __init__(self, provider: AlarmsProvider, host: str = "127.0.0.1") -> None:
        self.provider = provider
        self.host = host
        self.url: str | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, preferred_port: int | None = None) -> str:
        """Listen (on ``preferred_port`` if free, else any port); returns the base URL."""
        if self.url is not None:
            return self.url
        sock = _bind(self.host, preferred_port)
        config = uvicorn.Config(create_app(self.provider), lifespan="off", log_config=None,
                                log_level="warning", access_log=False,
                                timeout_graceful_shutdown=int(STOP_TIMEOUT_S))
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]),
                                         name="pwsk-alarms-endpoint")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not self._server.started:
            if self._task.done() or loop.time() > deadline:
                sock.close()
                await self.stop()
                raise RuntimeError("the alarms provider endpoint did not start")
            await asyncio.sleep(0.01)
        port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        logger.info("alarms provider listening", url=self.url)
        return self.url

    async def stop(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        self.url = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_S)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _bind(host: str, preferred: int | None) -> socket.socket:
    for port in ([preferred] if preferred else []) + [0]:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            if port == 0:
                raise
            continue
        return sock
    raise AssertionError("unreachable")  # pragma: no cover


def _basic(header: str | None) -> str | None:
    """``uuid:key`` from a basic ``Authorization`` header, or None."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    uuid, sep, key = decoded.partition(":")
    return decoded if sep and uuid and key else None


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def port_of(url: Any) -> int | None:
    """The port of ``http://host:port``, or None."""
    if not isinstance(url, str):
        return None
    _, _, port = url.rpartition(":")
    return int(port) if port.isdigit() else None
