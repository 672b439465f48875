"""Schema-driven fuzzing of the REST API from its own OpenAPI document (``/api-docs``).

Schemathesis turns every documented operation into Hypothesis strategies: valid requests
(positive) and requests that break the schema (negative: wrong types, out-of-range numbers,
missing fields). Two passes over the document:

- *wide*: path parameters as documented (any string), which exercises name validation;
- *deep*: namespaces, names and web paths drawn from a handful of values, so a generated
  PUT creates what a later GET, invoke, fire or DELETE of the same name finds.

Every answer must be below 500, and every 4xx OpenWhisk's ``{"error", "code"}`` with a
message; after each pass the server must still run and have logged no unhandled error.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.reliability.conftest import FIGURES, assert_alive
from tests.servers import GUEST, SYSTEM, Server

# Examples per operation and mode: ~40 operations x 2 modes x 2 passes x this.
EXAMPLES = 12

DEEP_PATHS = {
    "ns": ["_", "guest"],
    "rest": ["f0", "f1", "p0/f0", "p1/f1"],
    "name": ["f0", "f1", "p0", "p1"],
    "activation_id": ["0" * 32, "F" * 32],
    "path": ["guest/default/f0.json", "guest/p0/f0.http", "guest/default/f1",
             "_/p1/f1.text/body", "guest/default/f0.svg"],
}


def _deep(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for item in doc["paths"].values():
        for op in item.values():
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["name"] in DEEP_PATHS:
                    param["schema"] = {"type": "string", "enum": DEEP_PATHS[param["name"]]}
    return doc


def _negatable(op: Any) -> bool:
    """Only operations with a query string or a body have something to break; a path
    parameter is any string, so schemathesis cannot make one invalid."""
    definition = op.definition.raw
    return "requestBody" in definition or any(
        p.get("in") == "query" for p in definition.get("parameters", []))


def _problem(method: str, response: httpx.Response, couch: bool = False) -> str | None:
    """What is wrong with an answer, if anything. Past authentication ``/couch`` speaks
    CouchDB's own error shape, ``{"error", "reason"}``, which CouchDB clients expect."""
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.text[:300]}"
    if status < 400 or method == "HEAD":
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{status} not JSON: {response.text[:200]!r}"
    seconds = ("code", "reason") if couch else ("code",)
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"].strip()
            and any(isinstance(body.get(k), str) and body[k] for k in seconds)):
        return f"{status} not {{error, code}}: {response.text[:200]!r}"
    return None


def _send(client: httpx.Client, kwargs: dict[str, Any]) -> httpx.Response:
    content = kwargs.get("data")
    if content is not None and not isinstance(content, bytes | str):
        content = None
    return client.request(kwargs["method"], kwargs["url"], headers=kwargs.get("headers"),
                          params=kwargs.get("params"), json=kwargs.get("json"),
                          content=content)


def _fuzz(server: Server, doc: dict[str, Any], mode: GenerationMode,
          auth: str = GUEST, prefix: str = "/") -> list[str]:
    schema = schemathesis.openapi.from_dict(doc)
    problems: list[str] = []
    with server.client(auth, trust_env=False) as client:
        for result in schema.get_all_operations():
            if not hasattr(result, "ok"):
                pytest.fail(f"/api-docs has an invalid operation: {result}")
            op = result.ok()
            if not op.path.startswith(prefix):
                continue
            if mode is GenerationMode.NEGATIVE and not _negatable(op):
                continue
            _fuzz_operation(server, client, op, mode, problems)
    return problems


def _fuzz_operation(server: Server, client: httpx.Client, op: Any, mode: GenerationMode,
                    problems: list[str]) -> None:
    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        if PROTECTED & {str(v) for v in (case.path_parameters or {}).values()}:
            return  # the suite's own keys stay
        kwargs = case.as_transport_kwargs(base_url=server.url)
        response = _send(client, kwargs)
        FIGURES["REST requests fuzzed (schemathesis)"] += 1
        problem = _problem(kwargs["method"], response)
        if problem:
            FIGURES["REST 5xx or malformed errors"] += response.status_code >= 500
            problems.append(f"{op.label} {kwargs.get('params')} "
                            f"{str(kwargs.get('json'))[:200]}: {problem}")

    check()


PROTECTED = {"guest", "whisk.system", GUEST.split(":")[0], SYSTEM.split(":")[0]}


@pytest.fixture(scope="module")
def api_doc(own_server: Server) -> dict[str, Any]:
    doc: dict[str, Any] = httpx.get(own_server.url + "/api-docs", timeout=30).json()
    assert len(doc["paths"]) > 20
    return doc


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
@pytest.mark.parametrize("depth", ["wide", "deep"])
def test_openapi_operations_never_5xx(own_server: Server, api_doc: dict[str, Any],
                                      depth: str, mode: GenerationMode) -> None:
    doc = _deep(api_doc) if depth == "deep" else api_doc
    before = FIGURES["REST requests fuzzed (schemathesis)"]
    problems = _fuzz(own_server, doc, mode)
    assert FIGURES["REST requests fuzzed (schemathesis)"] - before >= 100
    assert not problems, "\n".join(problems[:30])
    assert_alive(own_server)


@pytest.fixture(scope="module")
def raw_client(own_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=own_server.url, timeout=60, trust_env=False) as client:
        yield client
    assert_alive(own_server)


_METHODS = st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH"])
_PATHS = st.sampled_from([
    "/api/v1/namespaces/_/actions/f0", "/api/v1/namespaces/_/actions/p0/f0",
    "/api/v1/namespaces/_/triggers/f0", "/api/v1/namespaces/_/rules/f0",
    "/api/v1/namespaces/_/packages/p0", "/api/v1/namespaces/_/activations",
    "/api/v1/web/guest/default/f0.json", "/couch/_/db0", "/couch/_/db0/doc",
    "/couch/_/db0/_all_docs", "/couch/_/db0/_find", "/gw/guest/api/x",
    "/api/v1/web/whisk.system/apimgmt/createApi", "/api/v1/namespaces/_/limits",
    "/realtime/c0", "/realtime/guest/c0", "/admin/keys", "/admin/subjects/nobody/block",
])
def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


_HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)


@pytest.mark.timeout(300)
@given(method=_METHODS, path=_PATHS,
       query=st.dictionaries(st.sampled_from(["limit", "skip", "blocking", "result", "timeout",
                                               "overwrite", "count", "rev", "include_docs",
                                               "force", "public", "docs"]),
                             st.one_of(st.text(max_size=30), st.integers().map(str)),
                             max_size=3),
       body=st.one_of(st.binary(max_size=300),
                      st.recursive(st.none() | st.booleans() | st.integers()
                                   | st.floats(allow_nan=False, allow_infinity=False)
                                   | st.text(max_size=20),
                                   lambda kids: st.lists(kids, max_size=4)
                                   | st.dictionaries(st.text(max_size=10), kids, max_size=4),
                                   max_leaves=12).map(lambda v: httpx.Request(
                                       "POST", "http://x", json=v).content)),
       content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form"
                                     "-urlencoded", "", "multipart/form-data; boundary=x"]),
       authorization=st.one_of(st.just(None), _HEADER_TEXT,
                               st.binary(max_size=60).map(_basic)))
@settings(max_examples=600, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_raw_requests_never_5xx(raw_client: httpx.Client, method: str, path: str,
                                query: dict[str, str], body: bytes, content_type: str,
                                authorization: str | None) -> None:
    """Bytes the document does not describe: any body under any content type, any query
    string, hidden routes (``/couch``, ``/gw``, API management) and broken credentials."""
    headers = {"content-type": content_type}
    # (the client refuses to send a header value with surrounding blanks)
    headers["authorization"] = (authorization.strip() if authorization is not None
                                else _basic(GUEST.encode()))
    response = raw_client.request(method, path, params=query, content=body, headers=headers)
    FIGURES["REST requests fuzzed (raw bytes, headers)"] += 1
    problem = _problem(method, response, couch=path.startswith("/couch/"))
    assert problem is None, f"{method} {path} {query} {body[:100]!r}: {problem}"


@pytest.mark.parametrize("depth", [101, 300, 2000])
@pytest.mark.parametrize("where", ["action parameters", "invoke", "fire", "couch"])
def test_deeply_nested_json_is_a_400(raw_client: httpx.Client, depth: int, where: str) -> None:
    """Nesting past what a record can hold is refused up front (it once stalled the server:
    the 500's traceback rendered the whole body)."""
    deep = b"[" * depth + b"]" * depth
    auth = {"authorization": _basic(GUEST.encode()), "content-type": "application/json"}
    ns = "/api/v1/namespaces/_"
    raw_client.put(f"{ns}/triggers/deep-t?overwrite=true", json={}, headers=auth)
    raw_client.put(f"{ns}/actions/deep-a?overwrite=true", headers=auth, json={
        "exec": {"kind": "python:3.11", "code": "def main(args):\n    return args\n"}})
    method, path, body = {
        "action parameters": ("PUT", f"{ns}/actions/deep-a?overwrite=true",
                              b'{"parameters": [{"key": "k", "value": ' + deep + b"}]}"),
        "invoke": ("POST", f"{ns}/actions/deep-a?blocking=true", b'{"k": ' + deep + b"}"),
        "fire": ("POST", f"{ns}/triggers/deep-t", b'{"k": ' + deep + b"}"),
        "couch": ("PUT", "/couch/_/deepdb/doc", b'{"k": ' + deep + b"}"),
    }[where]
    if where == "couch":
        raw_client.put("/couch/_/deepdb", headers=auth)
    response = raw_client.request(method, path, content=body, headers=auth, timeout=30)
    FIGURES["REST requests fuzzed (deep JSON, API documents)"] += 1
    assert response.status_code == 400, response.text
    assert _problem(method, response, couch=where == "couch") is None


_SWAGGER_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.sampled_from(["/", "/x", "get", "f0", "json", "http", "{", "_"]),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
        st.sampled_from(["paths", "basePath", "info", "title", "get", "post", "/x", "/{id}",
                         "x-openwhisk", "action", "namespace", "package",
                         "x-pwsk-response-type"]), kids, max_size=4),
    max_leaves=16)


@pytest.mark.timeout(120)
@given(apidoc=st.one_of(
    st.fixed_dictionaries({"swagger": st.one_of(_SWAGGER_VALUE, _SWAGGER_VALUE.map(
        lambda v: httpx.Request("POST", "http://x", json=v).content.decode()),
        st.text(max_size=30))}),
    st.dictionaries(st.sampled_from(["gatewayBasePath", "gatewayPath", "gatewayMethod",
                                     "action", "apiName"]), _SWAGGER_VALUE, max_size=5)),
    responsetype=st.one_of(st.none(), st.sampled_from(["json", "http", "nope", ""])))
@settings(max_examples=300, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_gateway_documents_never_5xx(raw_client: httpx.Client, apidoc: dict[str, Any],
                                         responsetype: str | None) -> None:
    """``wsk api create`` bodies, the simple form and Swagger documents of any shape."""
    params = {"responsetype": responsetype} if responsetype is not None else {}
    response = raw_client.post("/api/v1/web/whisk.system/apimgmt/createApi.http",
                               params=params, json={"apidoc": apidoc},
                               headers={"authorization": _basic(GUEST.encode())})
    FIGURES["REST requests fuzzed (deep JSON, API documents)"] += 1
    problem = _problem("POST", response)
    assert problem is None, f"{apidoc}: {problem}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
def test_admin_operations_never_5xx(own_server: Server, api_doc: dict[str, Any],
                                    mode: GenerationMode) -> None:
    """The key admin API, with an administrator's key (last: it creates and revokes keys)."""
    problems = _fuzz(own_server, api_doc, mode, auth=SYSTEM, prefix="/admin")
    assert not problems, "\n".join(problems[:30])
    assert_alive(own_server)


_HTTP_FIELD = st.one_of(
    _SWAGGER_VALUE, st.integers(-5, 1000), st.sampled_from(["200", "204", "302", "abc", "",
                                                             "text/html", "aGVsbG8=", "\u0000"]))


@pytest.mark.timeout(120)
@given(result=st.dictionaries(
    st.sampled_from(["headers", "statusCode", "body", "error", "html", "text", "svg",
                     "Content-Type", "x"]),
    st.one_of(_HTTP_FIELD, st.dictionaries(
        st.sampled_from(["Content-Type", "content-type", "Location", "Set-Cookie", "x-a",
                         "bad header", "a\nb"]), _HTTP_FIELD, max_size=3)), max_size=4),
       extension=st.sampled_from(["http", "json", "text", "html", "svg"]))
@settings(max_examples=200, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_web_action_results_of_any_shape_never_5xx(raw_client: httpx.Client,
                                                   web_echo: str, result: dict[str, Any],
                                                   extension: str) -> None:
    """What a web action returns becomes the HTTP response: any shape of it either works or
    is a 4xx, unless the action itself asked for a 5xx status."""
    response = raw_client.post(f"/api/v1/web/guest/default/{web_echo}.{extension}",
                               json={"r": result})
    FIGURES["REST requests fuzzed (web action results)"] += 1
    asked = str(result.get("statusCode", ""))
    if response.status_code >= 500 and asked.strip().isdigit() and int(asked) >= 500:
        return
    assert response.status_code < 500, f"{result} .{extension}: {response.text[:300]}"


@pytest.fixture(scope="module")
def web_echo(raw_client: httpx.Client) -> str:
    """A web action that answers whatever result the request asks for."""
    r = raw_client.put("/api/v1/namespaces/_/actions/webecho?overwrite=true", json={
        "exec": {"kind": "python:3.11", "code": "def main(args):\n    return args['r']\n"},
        "annotations": [{"key": "web-export", "value": True}]},
        headers={"authorization": _basic(GUEST.encode())})
    assert r.status_code == 200, r.text
    works = raw_client.post("/api/v1/web/guest/default/webecho.http",
                            json={"r": {"body": "hi", "statusCode": 201}})
    assert (works.status_code, works.text) == (201, "hi")
    return "webecho"


@pytest.mark.parametrize("headers", [{"bad header": "x"}, {"a\nb": "x"}, {"x-a": "1\r\n2"},
                                     {"x-a": "\u20ac"}, {"x-a": "nul\u0000"}])
def test_web_action_headers_http_cannot_carry_are_a_400(raw_client: httpx.Client,
                                                         web_echo: str,
                                                         headers: dict[str, str]) -> None:
    """Once the server dropped the connection (and logged an unhandled error) instead."""
    response = raw_client.post(f"/api/v1/web/guest/default/{web_echo}.http",
                               json={"r": {"headers": headers, "body": "x"}})
    FIGURES["REST requests fuzzed (web action results)"] += 1
    assert response.status_code == 400
    assert response.json()["error"] == "Response is not valid 'message/http'."
