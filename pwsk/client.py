"""A typed client for the OpenWhisk REST API (``{apihost}/api/v1``), sync and async.

    client = Client("http://127.0.0.1:3233", "uuid:key")
    client.put_action("hello", {"exec": {"kind": "python:default", "code": src}})
    run = client.invoke("hello", {"name": "Ada"}, blocking=True, result=True)
    run.body                                  # {"greeting": "Hello Ada"}

``Client`` wraps ``httpx.Client`` and ``AsyncClient`` wraps ``httpx.AsyncClient``; both take
the same arguments and have the same methods. Each method is described once, as a ``Call``
built by ``_Calls`` (path, query, body and how to read the answer), so the two transports
differ only in how they send it.

API routes (``wsk api``) go through OpenWhisk's API-management web actions,
``/api/v1/web/whisk.system/apimgmt/{createApi,getApi,deleteApi}.http``, as wsk does; each
call carries the ``spaceguid`` (the key's UUID) and ``accesstoken`` query parameters that the
API gateway expects.

Entity names may be qualified as the CLI writes them: ``name``, ``pkg/name``,
``/ns/name``, ``/ns/pkg/name`` (see ``pwsk.names``); unqualified names live in the client's
namespace, ``_`` by default (the caller's own).

Errors:

    ClientError        the server said no; ``status``, ``error`` (its message), ``code`` (tid)
    └── NetworkError   no usable answer: connection refused, timed out, TLS failure (status 0)

A blocking invoke whose action failed is *not* an error: OpenWhisk answers 502 (or 500) with
the activation record, which ``invoke`` returns as an ``Invocation`` like any other outcome.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import orjson

from . import __version__
from .errors import PwskError
from .names import DEFAULT_NAMESPACE, FQN, parse_fqn
from .redact import texts_of

Json = dict[str, Any]
T = TypeVar("T")
Verbose = Callable[[str], None]

# Blocking invokes may legitimately wait 60 s on the server before answering, so reads get a
# little more than that; a host that does not even accept the connection fails fast.
DEFAULT_TIMEOUT = httpx.Timeout(65.0, connect=10.0)
VERBOSE_BODY_LIMIT = 1000
ACTIVATION_ID_HEADER = "x-openwhisk-activation-id"
APIMGMT = "/web/whisk.system/apimgmt"
# wsk sends this when no APIGW_ACCESS_TOKEN is configured; the gateway then trusts the key.
DEFAULT_APIGW_TOKEN = "DUMMY TOKEN"
# wsk's DefaultObfuscateArr: passwords in bodies never reach a --verbose trace.
_PASSWORD = re.compile(r'"[Pp]assword":\s*".*"')


class ClientError(Exception):
    """The server answered with an error; ``str()`` reads like wsk: ``message (code tid)``."""

    def __init__(self, status: int, error: str, code: str | None = None) -> None:
        self.status = status
        self.error = error
        self.code = code
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.error} (code {self.code})" if self.code else self.error

    @classmethod
    def from_response(cls, response: httpx.Response) -> ClientError:
        """Read OpenWhisk's ``{error, code}`` body, falling back to the body text."""
        data = _json_or_none(response)
        if isinstance(data, dict) and "error" in data:
            error = data["error"]
            message = error if isinstance(error, str) else json.dumps(error)
            code = data.get("code")
            return cls(response.status_code, message, None if code is None else str(code))
        text = response.text.strip()[:500]
        return cls(response.status_code, text or response.reason_phrase or "HTTP error")


class NetworkError(ClientError):
    """No HTTP answer at all (``status`` 0): the host is unreachable, slow, or not TLS."""

    def __init__(self, error: str) -> None:
        super().__init__(0, error)


@dataclass(frozen=True, slots=True)
class Invocation:
    """The outcome of ``invoke``.

    ``status`` is the HTTP status: 202 (not blocking, or the blocking wait ran out), 200 (the
    action succeeded), 502 (application or developer error) or 500 (whisk internal error).
    ``body`` is what the server sent: the activation record, the bare result when invoked
    with ``result=True``, or ``{"activationId": ...}`` for a 202.
    """

    status: int
    body: Any
    activation_id: str | None

    @property
    def pending(self) -> bool:
        """True when no result came back (non-blocking, or the 60 s blocking wait expired)."""
        return self.status == 202

    @property
    def succeeded(self) -> bool:
        return self.status == 200


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One REST call: what to send, and how to turn the answer into ``T``.

    With ``check`` the answer must be a 2xx or it raises ``ClientError``; without it,
    ``parse`` sees every answer (invoke reads 502s itself).
    """

    method: str
    path: str  # under the API base, already URL-quoted, e.g. "/namespaces/_/actions/a%20b"
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    check: bool = True
    root: bool = False  # ``path`` is under the host, not the API base (SDK downloads)
    keep_key: bool = False  # a ``root`` call that still sends the key (admin endpoints)


def base_url(apihost: str, apiversion: str = "v1") -> str:
    """``{scheme}://{host}/api/{version}``; a bare host means https, as in wsk."""
    host = apihost.strip().rstrip("/")
    if not host:
        raise ValueError("An API host must be provided.")
    if not host.lower().startswith(("http://", "https://")):
        host = "https://" + host
    base = f"{host}/api/{apiversion or 'v1'}"
    try:
        url = httpx.URL(base)
    except httpx.InvalidURL as exc:
        raise ValueError(f"'{base}' is not a valid URL: {exc}") from None
    if not url.host:
        raise ValueError(f"The API host '{apihost}' is not a valid URL.")
    return base


def quote_segment(segment: str) -> str:
    """Quote one path segment; names may hold spaces, ``@`` and ``&`` (never ``/``)."""
    return quote(segment, safe="@&")


# --- reading answers --------------------------------------------------------------------


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise ClientError(
            response.status_code, f"The server sent a body that is not JSON: {exc}"
        ) from None


def _obj(response: httpx.Response) -> Json:
    data = _json(response)
    if not isinstance(data, dict):
        raise ClientError(response.status_code, "The server sent JSON that is not an object.")
    return data


def _list(response: httpx.Response) -> list[Any]:
    data = _json(response)
    if not isinstance(data, list):
        raise ClientError(response.status_code, "The server sent JSON that is not a list.")
    return data


def _count(response: httpx.Response) -> int:
    data = _obj(response)
    for value in data.values():
        if isinstance(value, int):
            return value
    raise ClientError(response.status_code, "The server sent no count.")


def _logs(response: httpx.Response) -> list[str]:
    logs = _obj(response).get("logs") or []
    return [str(line) for line in logs]


def _apis(response: httpx.Response) -> list[Json]:
    apis = _obj(response).get("apis") or []
    if not isinstance(apis, list):
        raise ClientError(response.status_code, "The server sent an API list that is not a list.")
    return [api for api in apis if isinstance(api, dict)]


def _nothing(response: httpx.Response) -> None:
    return None


def _content(response: httpx.Response) -> bytes:
    return response.content


def _fired(response: httpx.Response) -> str | None:
    # 204: the trigger has no active rule, so nothing ran and no activation was recorded.
    if response.status_code == 204 or not response.content:
        return None
    activation_id = _obj(response).get("activationId")
    return str(activation_id) if activation_id else response.headers.get(ACTIVATION_ID_HEADER)


def _invocation(response: httpx.Response) -> Invocation:
    status = response.status_code
    body = _json_or_none(response)
    # 500/502 carry the activation record (or, with result=true, {"error": ...}); an error
    # body that names a transaction id is a refusal (bad timeout, throttled, not found...).
    is_record = isinstance(body, dict) and "code" not in body
    if status in (200, 202) or (status in (500, 502) and is_record):
        activation_id = response.headers.get(ACTIVATION_ID_HEADER)
        if isinstance(body, dict) and isinstance(body.get("activationId"), str):
            activation_id = body["activationId"]
        return Invocation(status, body, activation_id)
    raise ClientError.from_response(response)


def _flag(value: bool) -> str:
    return "true" if value else "false"


# --- building calls ---------------------------------------------------------------------


class _Calls:
    """Every endpoint as a ``Call``; no I/O here, so both clients share it."""

    def __init__(self, namespace: str, gateway: Mapping[str, str] | None = None) -> None:
        self.namespace = namespace or DEFAULT_NAMESPACE
        self.gateway = dict(gateway or {})  # spaceguid and accesstoken for API management

    def fqn(self, name: str) -> FQN:
        try:
            return parse_fqn(name, self.namespace)
        except PwskError as exc:
            raise ValueError(exc.message) from None

    def ns(self, namespace: str | None) -> str:
        return f"/namespaces/{quote_segment(namespace or self.namespace)}"

    def entity(self, collection: str, name: str) -> str:
        fqn = self.fqn(name)
        parts = [fqn.package, fqn.name] if fqn.package else [fqn.name]
        return f"{self.ns(fqn.namespace)}/{collection}/" + "/".join(map(quote_segment, parts))

    @staticmethod
    def paging(limit: int | None, skip: int | None) -> dict[str, str]:
        params: dict[str, str] = {}
        if limit is not None:
            params["limit"] = str(limit)
        if skip is not None:
            params["skip"] = str(skip)
        return params

    def listing(
        self,
        collection: str,
        namespace: str | None,
        limit: int | None,
        skip: int | None,
        extra: Mapping[str, str] | None = None,
        suffix: str = "",
    ) -> Call[list[Json]]:
        params = {**self.paging(limit, skip), **(extra or {})}
        return Call("GET", f"{self.ns(namespace)}/{collection}{suffix}", _list, params)

    def put(self, collection: str, name: str, body: Json, overwrite: bool) -> Call[Json]:
        path = self.entity(collection, name)
        return Call("PUT", path, _obj, {"overwrite": _flag(overwrite)}, body)

    # actions
    def list_actions(
        self, package: str | None, namespace: str | None, limit: int | None, skip: int | None
    ) -> Call[list[Json]]:
        # A trailing "pkg/" lists the actions inside a package (or a binding's package).
        suffix = f"/{quote_segment(package)}/" if package else ""
        return self.listing("actions", namespace, limit, skip, suffix=suffix)

    def get_action(self, name: str, code: bool) -> Call[Json]:
        params = {} if code else {"code": "false"}
        return Call("GET", self.entity("actions", name), _obj, params)

    def invoke(
        self, name: str, params: Json | None, blocking: bool, result: bool, timeout: int | None
    ) -> Call[Invocation]:
        query = {"blocking": _flag(blocking or result), "result": _flag(result)}
        if timeout is not None:
            query["timeout"] = str(timeout)
        path = self.entity("actions", name)
        return Call("POST", path, _invocation, query, params or {}, check=False)

    # triggers
    def fire(self, name: str, params: Json | None) -> Call[str | None]:
        return Call("POST", self.entity("triggers", name), _fired, {}, params or {})

    # rules
    def set_rule_state(self, name: str, status: str) -> Call[Json]:
        return Call("POST", self.entity("rules", name), _obj, {}, {"status": status})

    # packages
    def delete_package(self, name: str, force: bool) -> Call[Json]:
        params = {"force": "true"} if force else {}
        return Call("DELETE", self.entity("packages", name), _obj, params)

    # activations
    def list_activations(
        self,
        name: str | None,
        namespace: str | None,
        limit: int | None,
        skip: int | None,
        since: int | None,
        upto: int | None,
        docs: bool,
    ) -> Call[list[Json]]:
        extra: dict[str, str] = {}
        if name:
            extra["name"] = name
        if since:
            extra["since"] = str(since)
        if upto:
            extra["upto"] = str(upto)
        if docs:
            extra["docs"] = "true"
        return self.listing("activations", namespace, limit, skip, extra)

    def refresh_packages(self, namespace: str | None) -> Call[Json]:
        return Call("POST", f"{self.ns(namespace)}/packages/refresh", _obj)

    # API routes
    def api_options(self, **options: str | int | None) -> dict[str, str]:
        chosen = {k: str(v) for k, v in options.items() if v is not None and v != ""}
        return {**chosen, **self.gateway}

    def create_api(self, apidoc: Json, response_type: str | None) -> Call[Json]:
        params = self.api_options(responsetype=response_type)
        return Call("POST", f"{APIMGMT}/createApi.http", _obj, params, {"apidoc": apidoc})

    def get_apis(
        self,
        basepath: str | None,
        relpath: str | None,
        operation: str | None,
        limit: int | None,
        skip: int | None,
    ) -> Call[list[Json]]:
        params = self.api_options(
            basepath=basepath, relpath=relpath, operation=operation, limit=limit, skip=skip
        )
        return Call("GET", f"{APIMGMT}/getApi.http", _apis, params)

    def delete_api(self, basepath: str, relpath: str | None, operation: str | None) -> Call[None]:
        params = self.api_options(basepath=basepath, relpath=relpath, operation=operation)
        return Call("DELETE", f"{APIMGMT}/deleteApi.http", _nothing, params)

    def activation(self, activation_id: str, namespace: str | None, tail: str = "") -> str:
        return f"{self.ns(namespace)}/activations/{quote_segment(activation_id)}{tail}"

    def count(
        self,
        collection: str,
        namespace: str | None,
        name: str | None,
        since: int | None,
        upto: int | None,
    ) -> Call[int]:
        params = {"count": "true"}
        if name:
            params["name"] = name
        if since:
            params["since"] = str(since)
        if upto:
            params["upto"] = str(upto)
        return Call("GET", f"{self.ns(namespace)}/{collection}", _count, params)


# --- the two clients --------------------------------------------------------------------


class _Base:
    """Configuration, request building and ``--verbose`` tracing shared by both clients."""

    def __init__(
        self,
        apihost: str,
        auth: str | None = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        apiversion: str = "v1",
        insecure: bool = False,
        cert: str | None = None,
        key: str | None = None,
        apigw_access_token: str | None = None,
        verbose: Verbose | None = None,
        verbose_body_limit: int | None = VERBOSE_BODY_LIMIT,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        user_agent: str | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network (e.g. ``httpx.MockTransport`` in tests).

        ``cert``/``key`` are a client certificate (PEM) and its key for mutual TLS; a
        certificate that cannot be loaded raises ``ValueError``.
        """
        self.base = base_url(apihost, apiversion)
        self.root = str(httpx.URL(self.base).copy_with(path="/", query=None)).rstrip("/")
        self.auth = auth
        self.insecure = insecure
        self._verbose = verbose
        self._limit = verbose_body_limit
        self._timeout = timeout
        self._verify = _tls(insecure, cert, key)
        gateway = {"accesstoken": apigw_access_token or DEFAULT_APIGW_TOKEN}
        if auth:
            gateway = {"spaceguid": auth.split(":", 1)[0], **gateway}
        self._calls = _Calls(namespace, gateway)
        self._headers = {
            "Accept": "application/json",
            "User-Agent": user_agent or f"pwsk/{__version__}",
        }
        self._secrets: list[str] = []
        if auth:
            token = base64.b64encode(auth.encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
            self._secrets = [auth, token]
        self._connect(transport)

    def _connect(self, transport: Any) -> None:
        raise NotImplementedError

    @property
    def namespace(self) -> str:
        return self._calls.namespace

    def _request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        headers = dict(self._headers)
        if call.root and not call.keep_key:
            # Like wsk's SDK download: a plain GET under the host, without the key.
            headers = {k: v for k, v in headers.items() if k != "Authorization"}
        content = None
        if call.body is not None:
            try:
                content = orjson.dumps(call.body)
            except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
                raise ClientError(400, f"The request cannot be sent as JSON: {exc}.") from None
            headers["Content-Type"] = "application/json"
        request = http.build_request(
            call.method,
            (self.root if call.root else self.base) + call.path,
            params=dict(call.params),
            content=content,
            headers=headers,
        )
        if self._verbose:
            if isinstance(call.body, dict) and isinstance(call.body.get("parameters"), list):
                self._secrets += texts_of(p.get("value") for p in call.body["parameters"]
                                          if isinstance(p, dict) and p.get("secret") is True)
            self._verbose(self._describe_request(request))
        return request

    def _finish(self, call: Call[T], response: httpx.Response) -> T:
        if self._verbose:
            self._verbose(self._describe_response(response))
        if call.check and not response.is_success:
            raise ClientError.from_response(response)
        return call.parse(response)

    @staticmethod
    def _network_error(exc: httpx.HTTPError, request: httpx.Request) -> NetworkError:
        target = f"{request.method} {request.url.copy_with(query=None)}"
        if isinstance(exc, httpx.TimeoutException):
            return NetworkError(f"{target}: the request timed out ({type(exc).__name__})")
        return NetworkError(f"{target}: {exc or type(exc).__name__}")

    def _redact(self, text: str) -> str:
        """Hide the key (plain or base64, e.g. a feed's ``authKey``) and passwords."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _PASSWORD.sub('"password": "******"', text)

    def _truncate(self, body: bytes) -> str:
        # Redact first, so that a cut never leaves half a key behind.
        data = self._redact(body.decode("utf-8", "replace")).encode()
        if self._limit is not None and len(data) > self._limit:
            return data[: self._limit].decode("utf-8", "ignore") + "..."
        return data.decode()

    def _headers_text(self, headers: httpx.Headers) -> str:
        shown = {
            k: ("Basic ***" if k.lower() == "authorization" else v) for k, v in headers.items()
        }
        return json.dumps(shown, indent=4)

    def _describe_request(self, request: httpx.Request) -> str:
        url = self._redact(str(request.url))
        lines = ["REQUEST:", f"[{request.method}]\t{url}", "Req Headers"]
        lines.append(self._headers_text(request.headers))
        if request.content:
            lines += ["Req Body", self._truncate(request.content)]
        return "\n".join(lines)

    def _describe_response(self, response: httpx.Response) -> str:
        lines = ["RESPONSE:", f"Got response with code {response.status_code}", "Resp Headers"]
        lines.append(self._headers_text(response.headers))
        lines.append(f"Response body size is {len(response.content)} bytes")
        lines += ["Response body received:", self._truncate(response.content)]
        return "\n".join(lines)


def _tls(insecure: bool, cert: str | None, key: str | None) -> Any:
    """httpx's ``verify``: a bool, or an SSL context that carries a client certificate."""
    if not cert:
        return not insecure
    context = httpx.create_ssl_context(verify=not insecure)
    try:
        context.load_cert_chain(cert, key or None)
    except (OSError, ValueError) as exc:
        raise ValueError(f"Unable to load the client certificate '{cert}': {exc}") from None
    return context


class Client(_Base):
    """Blocking client; use as a context manager or call ``close()``."""

    _http: httpx.Client

    def _connect(self, transport: Any) -> None:
        self._http = httpx.Client(timeout=self._timeout, verify=self._verify, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Run one ``Call``; every method below is a one-line use of this."""
        request = self._request(self._http, call)
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._network_error(exc, request) from exc
        return self._finish(call, response)

    def info(self) -> Json:
        """``GET /api/v1``: the API description, with ``build`` and ``buildno``."""
        return self.send(Call("GET", "", _obj))

    def namespaces(self) -> list[str]:
        return [str(ns) for ns in self.send(Call("GET", "/namespaces", _list))]

    def limits(self, namespace: str | None = None) -> Json:
        return self.send(Call("GET", self._calls.ns(namespace) + "/limits", _obj))

    def count(
        self,
        collection: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        since: int | None = None,
        upto: int | None = None,
    ) -> int:
        """``?count=true`` on a collection: ``actions``, ``triggers``, ``activations``..."""
        return self.send(self._calls.count(collection, namespace, name, since, upto))

    # actions
    def list_actions(
        self,
        package: str | None = None,
        *,
        namespace: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> list[Json]:
        return self.send(self._calls.list_actions(package, namespace, limit, skip))

    def get_action(self, name: str, *, code: bool = True) -> Json:
        return self.send(self._calls.get_action(name, code))

    def put_action(self, name: str, action: Json, *, overwrite: bool = False) -> Json:
        return self.send(self._calls.put("actions", name, action, overwrite))

    def delete_action(self, name: str) -> Json:
        return self.send(Call("DELETE", self._calls.entity("actions", name), _obj))

    def invoke(
        self,
        name: str,
        params: Json | None = None,
        *,
        blocking: bool = False,
        result: bool = False,
        timeout_ms: int | None = None,
    ) -> Invocation:
        """Invoke an action; ``result`` implies ``blocking``; ``timeout_ms`` ≤ 60000."""
        return self.send(self._calls.invoke(name, params, blocking, result, timeout_ms))

    # triggers
    def list_triggers(
        self, *, namespace: str | None = None, limit: int | None = None, skip: int | None = None
    ) -> list[Json]:
        return self.send(self._calls.listing("triggers", namespace, limit, skip))

    def get_trigger(self, name: str) -> Json:
        return self.send(Call("GET", self._calls.entity("triggers", name), _obj))

    def put_trigger(self, name: str, trigger: Json, *, overwrite: bool = False) -> Json:
        return self.send(self._calls.put("triggers", name, trigger, overwrite))

    def delete_trigger(self, name: str) -> Json:
        return self.send(Call("DELETE", self._calls.entity("triggers", name), _obj))

    def fire_trigger(self, name: str, params: Json | None = None) -> str | None:
        """Fire a trigger; the activation id, or None when no active rule matched (204)."""
        return self.send(self._calls.fire(name, params))

    # rules
    def list_rules(
        self, *, namespace: str | None = None, limit: int | None = None, skip: int | None = None
    ) -> list[Json]:
        return self.send(self._calls.listing("rules", namespace, limit, skip))

    def get_rule(self, name: str) -> Json:
        return self.send(Call("GET", self._calls.entity("rules", name), _obj))

    def put_rule(self, name: str, rule: Json, *, overwrite: bool = False) -> Json:
        """``rule`` is ``{"trigger": "/ns/t", "action": "/ns/a"}`` plus optional fields."""
        return self.send(self._calls.put("rules", name, rule, overwrite))

    def delete_rule(self, name: str) -> Json:
        return self.send(Call("DELETE", self._calls.entity("rules", name), _obj))

    def enable_rule(self, name: str) -> Json:
        return self.send(self._calls.set_rule_state(name, "active"))

    def disable_rule(self, name: str) -> Json:
        return self.send(self._calls.set_rule_state(name, "inactive"))

    # packages
    def list_packages(
        self, *, namespace: str | None = None, limit: int | None = None, skip: int | None = None
    ) -> list[Json]:
        return self.send(self._calls.listing("packages", namespace, limit, skip))

    def get_package(self, name: str) -> Json:
        return self.send(Call("GET", self._calls.entity("packages", name), _obj))

    def put_package(self, name: str, package: Json, *, overwrite: bool = False) -> Json:
        return self.send(self._calls.put("packages", name, package, overwrite))

    def delete_package(self, name: str, *, force: bool = False) -> Json:
        return self.send(self._calls.delete_package(name, force))

    def refresh_packages(self, *, namespace: str | None = None) -> Json:
        """``POST packages/refresh``: ``{added, updated, deleted}`` provider bindings."""
        return self.send(self._calls.refresh_packages(namespace))

    # API routes
    def create_api(self, apidoc: Json, *, response_type: str | None = None) -> Json:
        """Create a route (or every route of a Swagger ``apidoc``); the API's description."""
        return self.send(self._calls.create_api(apidoc, response_type))

    def get_apis(
        self,
        basepath: str | None = None,
        relpath: str | None = None,
        operation: str | None = None,
        *,
        limit: int | None = None,
        skip: int | None = None,
    ) -> list[Json]:
        """``[{id, key, value: {gwApiUrl, apidoc: <Swagger 2.0>, ...}}]``; all without filters.

        ``basepath`` may also be an API name.
        """
        return self.send(self._calls.get_apis(basepath, relpath, operation, limit, skip))

    def delete_api(
        self, basepath: str, relpath: str | None = None, operation: str | None = None
    ) -> None:
        """Delete an API (by base path or name), one path of it, or one operation."""
        self.send(self._calls.delete_api(basepath, relpath, operation))

    def download(self, path: str) -> bytes:
        """``GET {host}/{path}`` without the key, as ``wsk sdk install`` fetches SDKs."""
        return self.send(Call("GET", "/" + path.lstrip("/"), _content, root=True))

    def invokers(self) -> Json:
        """``{"invoker0": "up", ...}``: each invoker's health as the controller sees it."""
        return self.send(Call("GET", "/invokers", _obj, root=True, keep_key=True))

    # activations
    def list_activations(
        self,
        name: str | None = None,
        *,
        namespace: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
        since: int | None = None,
        upto: int | None = None,
        docs: bool = False,
    ) -> list[Json]:
        """Newest first; ``name`` is ``action`` or ``pkg/action``; times are epoch ms."""
        call = self._calls.list_activations(name, namespace, limit, skip, since, upto, docs)
        return self.send(call)

    def get_activation(self, activation_id: str, *, namespace: str | None = None) -> Json:
        return self.send(Call("GET", self._calls.activation(activation_id, namespace), _obj))

    def activation_logs(self, activation_id: str, *, namespace: str | None = None) -> list[str]:
        path = self._calls.activation(activation_id, namespace, "/logs")
        return self.send(Call("GET", path, _logs))

    def activation_result(self, activation_id: str, *, namespace: str | None = None) -> Json:
        """``{result, success, status[, size]}``."""
        path = self._calls.activation(activation_id, namespace, "/result")
        return self.send(Call("GET", path, _obj))


class AsyncClient(_Base):
    """The same API as ``Client`` over ``httpx.AsyncClient``; ``async with`` or ``aclose()``."""

    _http: httpx.AsyncClient

    def _connect(self, transport: Any) -> None:
        self._http = httpx.AsyncClient(
            timeout=self._timeout, verify=self._verify, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        request = self._request(self._http, call)
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._network_error(exc, request) from exc
        return self._finish(call, response)

    async def info(self) -> Json:
        return await self.send(Call("GET", "", _obj))

    async def namespaces(self) -> list[str]:
        return [str(ns) for ns in await self.send(Call("GET", "/namespaces", _list))]

    async def limits(self, namespace: str | None = None) -> Json:
        return await self.send(Call("GET", self._calls.ns(namespace) + "/limits", _obj))

    async def count(
        self,
        collection: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        since: int | None = None,
        upto: int | None = None,
    ) -> int:
        return await self.send(self._calls.count(collection, namespace, name, since, upto))

    # actions
    async def list_actions(
        self,
        package: str | None = None,
        *,
        namespace: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> list[Json]:
        return await self.send(self._calls.list_actions(package, namespace, limit, skip))

    async def get_action(self, name: str, *, code: bool = True) -> Json:
        return await self.send(self._calls.get_action(name, code))

    async def put_action(self, name: str, action: Json, *, overwrite: bool = False) -> Json:
        return await self.send(self._calls.put("actions", name, action, overwrite))

    async def delete_action(self, name: str) -> Json:
        return await self.send(Call("DELETE", self._calls.entity("actions", name), _obj))

    async def invoke(
        self,
        name: str,
        params: Json | None = None,
        *,
        blocking: bool = False,
        result: bool = False,
        timeout_ms: int | None = None,
    ) -> Invocation:
        return await self.send(self._calls.invoke(name, params, blocking, result, timeout_ms))

    # triggers
    async def list_triggers(
        self, *, namespace: str | None = None, limit: int | None = None, skip: int | None = None
    ) -> list[Json]:
        return await self.send(self._calls.listing("triggers", namespace, limit, skip))

    async def get_trigger(self, name: str) -> Json:
        return await self.send(Call("GET", self._calls.entity("triggers", name), _obj))

    async def put_trigger(self, name: str, trigger: Json, *, overwrite: bool = False) -> Json:
        return await self.send(self._calls.put("triggers", name, trigger, overwrite))

    async def delete_trigger(self, name: str) -> Json:
        return await self.send(Call("DELETE", self._calls.entity("triggers", name), _obj))

    async def fire_trigger(self, name: str, params: Json | None = None) -> str | None:
        return await self.send(self._calls.fire(name, params))

    # rules
    async def list_rules(
        self, *, namespace: str | None = None, limit: int | None = None, skip: int | None = None
    ) -> list[Json]:
        return await self.send(self._calls.listing("rules", namespace, limit, skip))

    async def get_rule(self, name: str) -> Json:
        return await self.send(Call("GET", self._calls.entity("rules", name), _obj))

    async def put_rule(self, name: str, rule: Json, *, overwrite: bool = False) -> Json:
        return await self.send(self._calls.put("rules", name, rule, overwrite))

    async def delete_rule(self, name: str) -> Json:
        return await self.send(Call("DELETE", self._calls.entity("rules", name), _obj))

    async def enable_rule(self, name: str) -> Json:
        return await self.send(self._calls.set_rule_state(name, "active"))

    async def disable_rule(self, name: str) -> Json:
        return await self.send(self._calls.set_rule_state(name, "inactive"))

    # packages
    async def list_packages(
        self, *, namespace: str | None = None, limit: int | None = None, skip: int | None = None
    ) -> list[Json]:
        return await self.send(self._calls.listing("packages", namespace, limit, skip))

    async def get_package(self, name: str) -> Json:
        return await self.send(Call("GET", self._calls.entity("packages", name), _obj))

    async def put_package(self, name: str, package: Json, *, overwrite: bool = False) -> Json:
        return await self.send(self._calls.put("packages", name, package, overwrite))

    async def delete_package(self, name: str, *, force: bool = False) -> Json:
        return await self.send(self._calls.delete_package(name, force))

    async def refresh_packages(self, *, namespace: str | None = None) -> Json:
        return await self.send(self._calls.refresh_packages(namespace))

    # API routes
    async def create_api(self, apidoc: Json, *, response_type: str | None = None) -> Json:
        return await self.send(self._calls.create_api(apidoc, response_type))

    async def get_apis(
        self,
        basepath: str | None = None,
        relpath: str | None = None,
        operation: str | None = None,
        *,
        limit: int | None = None,
        skip: int | None = None,
    ) -> list[Json]:
        return await self.send(self._calls.get_apis(basepath, relpath, operation, limit, skip))

    async def delete_api(
        self, basepath: str, relpath: str | None = None, operation: str | None = None
    ) -> None:
        await self.send(self._calls.delete_api(basepath, relpath, operation))

    async def download(self, path: str) -> bytes:
        return await self.send(Call("GET", "/" + path.lstrip("/"), _content, root=True))

    async def invokers(self) -> Json:
        return await self.send(Call("GET", "/invokers", _obj, root=True, keep_key=True))

    # activations
    async def list_activations(
        self,
        name: str | None = None,
        *,
        namespace: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
        since: int | None = None,
        upto: int | None = None,
        docs: bool = False,
    ) -> list[Json]:
        call = self._calls.list_activations(name, namespace, limit, skip, since, upto, docs)
        return await self.send(call)

    async def get_activation(self, activation_id: str, *, namespace: str | None = None) -> Json:
        path = self._calls.activation(activation_id, namespace)
        return await self.send(Call("GET", path, _obj))

    async def activation_logs(
        self, activation_id: str, *, namespace: str | None = None
    ) -> list[str]:
        path = self._calls.activation(activation_id, namespace, "/logs")
        return await self.send(Call("GET", path, _logs))

    async def activation_result(self, activation_id: str, *, namespace: str | None = None) -> Json:
        path = self._calls.activation(activation_id, namespace, "/result")
        return await self.send(Call("GET", path, _obj))
