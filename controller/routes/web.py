"""Web actions (spec §5.4): ``/api/v1/web/{ns}/{pkg|default}/{action}{ext}{/path}``.

Any HTTP method an action exports reaches it without OpenWhisk credentials; the owner of the
namespace is charged and owns the activation. The request becomes ``__ow_*`` arguments, the
result is projected and rendered by the extension's content handler.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from pwsk import tid
from pwsk.activation import Status
from pwsk.entities import truthy
from pwsk.errors import BadRequest, Messages, NotFound, PwskError, Unauthenticated
from pwsk.limits import MAX_PAYLOAD_SIZE
from pwsk.messages import Identity
from pwsk.names import FQN, is_valid_name

from ..core import Controller
from ..deps import Ctl, check_depth, read_body
from ..invoke import Resolved

router = APIRouter(prefix="/api/v1/web", tags=["web actions"])

EXTENSIONS = (".http", ".json", ".html", ".svg", ".text")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
CORS_METHODS = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
DEFAULT_ALLOW_HEADERS = ("Authorization, Origin, X-Requested-With, Content-Type, Accept, "
                         "User-Agent")
PROCESSING_ERROR = "There was an error processing your request."
NOT_READY = "Response not yet ready."
MISSING_PROPERTY = "Response does not include requested property."
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "image/svg+xml")


def split_target(path: str) -> tuple[str, str | None, str, str, str]:
    """``ns/pkg/action.ext/rest`` → (ns, package or None, action, extension, rest)."""
    parts = path.split("/")
    if len(parts) < 3 or not all(parts[:2]) or not parts[2]:
        raise NotFound()
    ns, pkg, last = parts[0], parts[1], parts[2]
    ext = ".http"
    for candidate in EXTENSIONS:
        if last.endswith(candidate) and len(last) > len(candidate):
            last, ext = last[: -len(candidate)], candidate
            break
    rest = "/" + "/".join(parts[3:]) if len(parts) > 3 else ""
    if not (is_valid_name(ns) and is_valid_name(pkg) and is_valid_name(last)):
        raise NotFound()
    return ns, None if pkg == "default" else pkg, last, ext, rest


def is_binary(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return bool(media) and not media.startswith(_TEXT_TYPES) and not media.endswith("+json")


def cors_headers(request: Request) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": CORS_METHODS,
        "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers",
                                                            DEFAULT_ALLOW_HEADERS),
    }


async def web_arguments(request: Request, raw: bool, rest: str,
                        user: str | None) -> dict[str, Any]:
    """The ``__ow_*`` arguments plus (unless raw) the merged query and body."""
    body = await read_body(request, MAX_PAYLOAD_SIZE)
    content_type = request.headers.get("content-type", "")
    args: dict[str, Any] = {
        "__ow_method": request.method.lower(),
        "__ow_headers": {k.lower(): v for k, v in request.headers.items()
                         if k.lower() != "authorization"},
        "__ow_path": rest,
    }
    if user is not None:
        args["__ow_user"] = user
    if raw:
        args["__ow_query"] = request.url.query
        if not body:
            args["__ow_body"] = ""
        elif is_binary(content_type) or content_type.startswith("application/json"):
            args["__ow_body"] = base64.b64encode(body).decode()
        else:
            args["__ow_body"] = body.decode("utf-8", "replace")
        return args
    merged: dict[str, Any] = dict(request.query_params)
    if body:
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise BadRequest("The request content was malformed: body is not JSON.") from None
            check_depth(value)
            if isinstance(value, dict):
                merged.update(value)
            else:
                args["__ow_body"] = value
        elif media == "application/x-www-form-urlencoded":
            merged.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif is_binary(content_type):
            args["__ow_body"] = base64.b64encode(body).decode()
        else:
            args["__ow_body"] = body.decode("utf-8", "replace")
    if any(key.startswith("__ow_") for key in merged):
        raise BadRequest(Messages.PARAMS_NOT_ALLOWED)
    return {**merged, **args}


async def authorize(request: Request, ctl: Ctl, resolved: Resolved) -> str | None:
    """Apply ``require-whisk-auth``; returns ``__ow_user`` when the caller authenticated."""
    required = resolved.action.annotation("require-whisk-auth")
    if required is None or required is False:
        return None
    if required is True:
        identity = await ctl.auth.authenticate(request.headers.get("authorization"))
        return identity.namespace
    given = request.headers.get("x-require-whisk-auth", "")
    if not hmac.compare_digest(given.encode(), str(required).encode()):
        raise Unauthenticated()
    return None


async def web_action(path: str, request: Request, ctl: Ctl) -> Response:
    ns, pkg, name, ext, rest = split_target(path)
    owner, resolved = await find_web_action(ctl, FQN(ns, name, pkg))
    return await serve(request, ctl, owner, resolved, ext, rest)


async def find_web_action(ctl: Controller, fqn: FQN) -> tuple[Identity, Resolved]:
    """The owner and the exported action behind ``fqn``; 404 for anything else."""
    owner = await ctl.auth.by_namespace(fqn.namespace)
    if owner is None:
        raise NotFound()
    try:
        resolved = await ctl.activator.resolve(owner, fqn)
    except PwskError:
        raise NotFound() from None
    if not truthy(resolved.action.annotation("web-export")):
        raise NotFound()
    return owner, resolved


async def serve(request: Request, ctl: Controller, owner: Identity, resolved: Resolved,
                ext: str, rest: str, extra: dict[str, Any] | None = None) -> Response:
    """Run a web action for ``request`` and render its result for ``ext``."""
    action = resolved.action
    custom_options = truthy(action.annotation("web-custom-options"))
    if request.method == "OPTIONS" and not custom_options:
        return Response(status_code=200, headers=cors_headers(request))
    user = await authorize(request, ctl, resolved)
    raw = truthy(action.annotation("raw-http"))
    args = await web_arguments(request, raw, rest, user)
    if extra and not raw:
        args = {**extra, **args}
    ctl.activator.check_final(resolved, args)
    ctl.throttles.check_invoke(owner, ctl.balancer.in_flight(owner.namespace))
    outcome = await ctl.activator.invoke(owner, resolved, args, blocking=True,
                                         wait_ms=ctl.settings.max_blocking_wait_ms)
    headers = {"x-openwhisk-activation-id": outcome.activation_id}
    if not custom_options:
        headers.update(cors_headers(request))
    activation = outcome.activation
    if activation is None:
        return JSONResponse({"error": NOT_READY, "code": tid.current.get()}, status_code=202,
                            headers=headers)
    status = activation.response.status
    result = activation.response.result
    if status in (Status.DEVELOPER_ERROR, Status.WHISK_ERROR):
        raise BadRequest(PROCESSING_ERROR)
    if status == Status.APPLICATION_ERROR and isinstance(result, dict):
        result = result.get("error")
    return render(ext, result, rest, headers)


def project(value: Any, rest: str) -> Any:
    for part in (p for p in rest.split("/") if p):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise NotFound(MISSING_PROPERTY)
    return value


def render(ext: str, result: Any, rest: str, headers: dict[str, str]) -> Response:
    if ext == ".http":
        return render_http(result, headers)
    value = project(result, rest)
    if ext == ".json":
        if not isinstance(value, dict | list):
            raise BadRequest("Response is not valid 'application/json'.")
        return Response(orjson.dumps(value), media_type="application/json", headers=headers)
    if ext == ".text":
        if not rest and isinstance(value, dict):
            value = value.get("body", value.get("text"))
            if value is None:
                raise NotFound(MISSING_PROPERTY)
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        return Response(text, media_type="text/plain", headers=headers)
    field = ext[1:]  # html | svg
    if not rest and isinstance(value, dict):
        value = value.get("body", value.get(field))
        if value is None:
            raise NotFound(MISSING_PROPERTY)
    media = "text/html" if field == "html" else "image/svg+xml"
    if not isinstance(value, str):
        raise BadRequest(f"Response is not valid '{media}'.")
    return Response(value, media_type=media, headers=headers)


_HEADER_NAME = re.compile(r"\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_HEADER_VALUE = re.compile(r"\A[\t\x20-\x7e\x80-\xff]*\Z")
# Headers that delimit the message: an action's own would desynchronise the connection.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})


def render_http(result: Any, headers: dict[str, str]) -> Response:
    invalid = BadRequest("Response is not valid 'message/http'.")
    if not isinstance(result, dict):
        raise invalid
    out_headers = dict(headers)
    raw_headers = result.get("headers", {})
    if not isinstance(raw_headers, dict):
        raise invalid
    extra: list[tuple[str, str]] = []
    for key, value in raw_headers.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, dict | list) or v is None:
                raise invalid
            text = str(v).lower() if isinstance(v, bool) else str(v)
            # What HTTP cannot carry (a name that is not a token, a line break or a byte
            # beyond Latin-1 in a value) would make the server drop the connection.
            if not _HEADER_NAME.match(str(key)) or not _HEADER_VALUE.match(text):
                raise invalid
            if str(key).lower() in _FRAMING:  # the server frames the body it sends
                continue
            extra.append((str(key), text))
    status = result.get("statusCode", result.get("code"))
    try:
        code = int(status) if status is not None and not isinstance(status, bool) else None
    except (TypeError, ValueError):
        raise invalid from None
    if code is not None and not 200 <= code <= 599:  # 1xx is never a final response
        raise invalid
    body = result.get("body")
    content_type = next((v for k, v in extra if k.lower() == "content-type"), None)
    payload: bytes
    if body is None or body == "":
        payload = b""
        code = code or 204
    elif isinstance(body, str):
        content_type = content_type or "text/html"
        if is_binary(content_type) or (content_type.startswith("application/json")
                                       and _looks_base64(body)):
            try:
                payload = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                payload = body.encode()
        else:
            payload = body.encode()
    else:
        content_type = content_type or "application/json"
        payload = orjson.dumps(body)
    if code in (204, 304):  # no body may follow these
        payload = b""
    response = Response(payload, status_code=code or 200)
    for key, value in out_headers.items():
        response.headers[key] = value
    seen: set[str] = set()
    for key, value in extra:
        if key.lower() in seen:
            response.headers.append(key, value)
        else:
            response.headers[key] = value
            seen.add(key.lower())
    if content_type and payload:
        response.headers["content-type"] = content_type
    return response


def _looks_base64(text: str) -> bool:
    from pwsk.entities import looks_binary

    return looks_binary(text)


for _method in METHODS:
    router.add_api_route("/{path:path}", web_action, methods=[_method],
                         operation_id=f"web_action_{_method.lower()}",
                         summary=f"Call a web action ({_method})")
