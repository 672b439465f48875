"""The controller's ASGI app factory: routers, transaction ids, CORS, errors as JSON.

Every response carries ``X-Request-ID`` and the CORS headers of spec §1.1; every error is
``{"error": message, "code": transaction id}`` with OpenWhisk's status and wording, and an
unexpected exception becomes a logged 500 with the same shape, never a stack trace.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pwsk import log, tid
from pwsk.bus import Bus
from pwsk.docstore import DocStore
from pwsk.errors import Messages, PwskError, Unauthenticated
from pwsk.registry import Registry
from pwsk.settings import Settings
from pwsk.store import Store

from . import openapi
from .core import Controller
from .deps import get_identity
from .routes import actions, activations, admin, apigw, couch, meta, packages, rules, triggers, web

logger = log.get("pwsk.controller")

CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, DELETE, POST, PUT, HEAD"),
    (b"access-control-allow-headers",
     b"Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"),
]
_REASONS = {400: "Bad Request", 404: Messages.NOT_FOUND, 405: "Method Not Allowed",
            413: "Request Entity Too Large", 422: "Bad Request"}


class EdgeMiddleware:
    """Transaction id in and out, CORS on every response, ``OPTIONS`` answered with 200."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header = value.decode("latin-1")
                break
        transid = tid.from_header(header)
        tid.current.set(transid)
        scope.setdefault("state", {})["tid"] = transid
        if scope["path"].startswith(("/api/v1/web/", "/gw/")):
            extra = [(b"x-request-id", transid.encode())]  # web actions set their own CORS
        else:
            extra = [(b"x-request-id", transid.encode()), *CORS_HEADERS]
        if scope["method"] == "OPTIONS" and len(extra) > 1:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*extra, (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The invoke route's path as Starlette matches "/api/v1/namespaces/{ns}/actions/{rest:path}".
_INVOKE_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/actions/(.*)$")


class InvokeFastPath:
    """``POST /api/v1/namespaces/{ns}/actions/{rest}`` straight to its endpoint.

    The same endpoint, identity dependency and error handlers as the routed call, without
    FastAPI's route matching (two dozen route checks: the invoke route is one of the last),
    its dependency resolution and its inner middleware: a third of the server's CPU per
    warm invoke. Every other request goes through FastAPI; the route stays registered (it
    documents the API and serves nothing else).
    """

    def __init__(self, app: ASGIApp, controller: Controller) -> None:
        self.app = app
        self.controller = controller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (_INVOKE_PATH.match(scope["path"])
                 if scope["type"] == "http" and scope["method"] == "POST" else None)
        if match is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            caller = await get_identity(request)
            response = await actions.invoke_action(match[1], match[2], request, caller,
                                                   self.controller)
        except PwskError as exc:
            response = await _pwsk_error(request, exc)
        except Exception as exc:
            response = await _unexpected(request, exc)
        await response(scope, receive, send)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message, "code": tid.current.get()}, status_code=status,
                        headers=headers)


async def _pwsk_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, PwskError)
    headers = None
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": 'Basic realm="OpenWhisk secure realm"'}
    return error_response(exc.status, exc.message, headers)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = _REASONS.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, message)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return error_response(400, f"The request content was malformed: {where} "
                               f"{first.get('msg', '')}".strip())


async def _unexpected(_: Request, exc: Exception) -> Response:
    logger.exception("unhandled error", error=repr(exc))
    return error_response(500, "Internal server error")


def create_app(settings: Settings, store: Store, bus: Bus, *, registry: Registry | None = None,
               docstore: DocStore | None = None, manage_engines: bool = True) -> FastAPI:
    """Build the controller app. With ``manage_engines`` it starts and stops store and bus.

    ``docstore`` (embedded deployment) is served at ``/couch/{ns}/`` for actions' data.
    """
    controller = Controller(settings, store, bus, registry, docstore)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_engines:
            await store.start()
            await bus.start()
        await controller.start()
        try:
            yield
        finally:
            await controller.stop()
            if manage_engines:
                await bus.stop()
                await store.stop()

    # FastAPI's OpenTelemetry hooks off: pwsk configures no provider, and asking whether one
    # is configured cost every request ~2 % of a warm invoke's server CPU.
    app = FastAPI(title="pwsk", version="1.0.0", lifespan=lifespan, docs_url="/docs",
                  openapi_url="/api-docs", redoc_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False,
                             "operation_spans": False})
    app.state.controller = controller
    generate = app.openapi

    def openapi_with_schemas() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.install(generate())
        return app.openapi_schema

    app.openapi = openapi_with_schemas  # type: ignore[method-assign]
    # apigw before web: its management paths live under /api/v1/web/whisk.system/apimgmt.
    for module in (meta, admin, actions, triggers, rules, packages, activations, apigw, web,
                   couch):
        app.include_router(module.router)
    handlers: dict[Any, Any] = {
        PwskError: _pwsk_error,
        StarletteHTTPException: _http_error,
        RequestValidationError: _validation_error,
        Exception: _unexpected,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
    app.add_middleware(InvokeFastPath, controller=controller)
    app.add_middleware(EdgeMiddleware)  # added last: it wraps the fast path too
    return app
