"""``pwsk.client``: URLs, auth, query strings, outcomes and errors, sync and async."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from pwsk.client import (
    AsyncClient,
    Client,
    ClientError,
    Invocation,
    NetworkError,
    base_url,
    quote_segment,
)
from tests.cli.conftest import FAKE_HOST, GUEST, TID, FakeWhisk

NS = "/api/v1/namespaces/_"


def client_for(fake: FakeWhisk, **options: Any) -> Client:
    return Client(FAKE_HOST, GUEST, transport=fake.transport(), **options)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("openwhisk.example.com", "https://openwhisk.example.com/api/v1"),
        ("http://127.0.0.1:3233/", "http://127.0.0.1:3233/api/v1"),
        ("HTTPS://h:443", "HTTPS://h:443/api/v1"),
        ("httpbin.org", "https://httpbin.org/api/v1"),  # wsk's "starts with http" slip
    ],
)
def test_base_url(host: str, url: str) -> None:
    assert base_url(host) == url


def test_base_url_needs_a_host() -> None:
    with pytest.raises(ValueError, match="An API host must be provided"):
        base_url("  ")
    assert base_url("h", "v2") == "https://h/api/v2"


def test_names_are_quoted_per_segment(fake: FakeWhisk) -> None:
    assert quote_segment("a b&c@d/e") == "a%20b&c@d%2Fe"
    fake.on("GET", f"{NS}/actions/my%20pkg/say%20hi@home", 200, {"name": "say hi@home"})
    with client_for(fake) as client:
        assert client.get_action("my pkg/say hi@home")["name"] == "say hi@home"
        with pytest.raises(ValueError, match="not valid"):
            client.get_action("/only-namespace")


def test_auth_header_and_namespaces(fake: FakeWhisk) -> None:
    fake.on("GET", "/api/v1/namespaces/guest/actions/x", 200, {})
    with client_for(fake) as client:
        client.get_action("/guest/x")
    token = base64.b64encode(GUEST.encode()).decode()
    assert fake.last.headers["authorization"] == f"Basic {token}"
    fake.on("GET", "/api/v1/namespaces/other/triggers/t", 200, {})
    with client_for(fake, namespace="other") as client:
        assert client.namespace == "other"
        client.get_trigger("t")


def test_put_sends_overwrite_and_body(fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/actions/hello", 200, {"name": "hello"})
    with client_for(fake) as client:
        client.put_action(
            "hello", {"exec": {"kind": "python:default", "code": "x"}}, overwrite=True
        )
    assert fake.last.url.params["overwrite"] == "true"
    assert fake.last.headers["content-type"] == "application/json"
    assert fake.body() == {"exec": {"kind": "python:default", "code": "x"}}


def test_list_query_parameters(fake: FakeWhisk) -> None:
    fake.on("GET", f"{NS}/activations", 200, [])
    fake.on("GET", f"{NS}/actions/tools/", 200, [{"name": "a"}])
    with client_for(fake) as client:
        client.list_activations("pkg/a", limit=5, skip=2, since=10, upto=20, docs=True)
        assert dict(fake.last.url.params) == {
            "limit": "5",
            "skip": "2",
            "name": "pkg/a",
            "since": "10",
            "upto": "20",
            "docs": "true",
        }
        assert client.list_actions("tools") == [{"name": "a"}]


def test_count(fake: FakeWhisk) -> None:
    fake.on("GET", f"{NS}/actions", 200, {"actions": 3})
    with client_for(fake) as client:
        assert client.count("actions") == 3
    assert fake.last.url.params["count"] == "true"


def test_error_body_becomes_client_error(fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/actions/hello", 409, {"error": "resource already exists", "code": TID})
    with client_for(fake) as client, pytest.raises(ClientError) as err:
        client.put_action("hello", {})
    assert (err.value.status, err.value.error, err.value.code) == (
        409,
        "resource already exists",
        TID,
    )
    assert str(err.value) == f"resource already exists (code {TID})"


def test_error_without_json_falls_back_to_text(fake: FakeWhisk) -> None:
    fake.answers[("GET", f"{NS}/rules/r")] = lambda r: httpx.Response(503, text="<h1>down</h1>")
    with client_for(fake) as client, pytest.raises(ClientError) as err:
        client.get_rule("r")
    assert (err.value.status, str(err.value)) == (503, "<h1>down</h1>")


@pytest.mark.parametrize(
    ("status", "body", "pending", "succeeded"),
    [
        (202, {"activationId": "a1"}, True, False),
        (200, {"activationId": "a1", "response": {"success": True}}, False, True),
        (502, {"activationId": "a1", "response": {"success": False}}, False, False),
        (500, {"activationId": "a1", "response": {"success": False}}, False, False),
    ],
)
def test_invoke_outcomes(
    fake: FakeWhisk, status: int, body: dict[str, object], pending: bool, succeeded: bool
) -> None:
    fake.on("POST", f"{NS}/actions/a", status, body)
    with client_for(fake) as client:
        run = client.invoke("a", {"x": 1}, blocking=True, timeout_ms=5000)
    assert run == Invocation(status, body, "a1")
    assert (run.pending, run.succeeded) == (pending, succeeded)
    assert dict(fake.last.url.params) == {"blocking": "true", "result": "false", "timeout": "5000"}
    assert fake.body() == {"x": 1}


def test_invoke_result_error_and_refusals(fake: FakeWhisk) -> None:
    def failed_result(request: httpx.Request) -> httpx.Response:
        headers = {"x-openwhisk-activation-id": "b2"}
        return httpx.Response(502, json={"error": "boom"}, headers=headers)

    fake.answers[("POST", f"{NS}/actions/a")] = failed_result
    with client_for(fake) as client:
        run = client.invoke("a", result=True)
        assert (run.status, run.body, run.activation_id) == (502, {"error": "boom"}, "b2")
        assert fake.last.url.params["blocking"] == "true"  # result implies blocking
        fake.on("POST", f"{NS}/actions/a", 429, {"error": "Too many requests", "code": TID})
        with pytest.raises(ClientError, match="Too many requests"):
            client.invoke("a")


def test_fire_with_and_without_rules(fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/triggers/t", 202, {"activationId": "c3"})
    with client_for(fake) as client:
        assert client.fire_trigger("t", {"p": 1}) == "c3"
        fake.on("POST", f"{NS}/triggers/t", 204)
        assert client.fire_trigger("t") is None


def test_activation_calls(fake: FakeWhisk) -> None:
    fake.on("GET", f"{NS}/activations/a1/logs", 200, {"logs": ["l1", "l2"]})
    fake.on("GET", f"{NS}/activations/a1/result", 200, {"result": {"ok": 1}, "success": True})
    fake.on("POST", f"{NS}/rules/r", 200, {"status": "inactive"})
    with client_for(fake) as client:
        assert client.activation_logs("a1") == ["l1", "l2"]
        assert client.activation_result("a1")["result"] == {"ok": 1}
        client.disable_rule("r")
    assert fake.body() == {"status": "inactive"}


def test_network_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    transport = httpx.MockTransport(refuse)
    with (
        Client(FAKE_HOST, GUEST, transport=transport) as client,
        pytest.raises(NetworkError) as err,
    ):
        client.namespaces()
    assert err.value.status == 0
    assert "connection refused" in str(err.value)


def test_verbose_hook_truncates_and_hides_the_key(fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/actions/big", 200, {"name": "big"})
    seen: list[str] = []
    with client_for(fake, verbose=seen.append) as client:
        client.put_action("big", {"exec": {"code": "x" * 5000}})
    request, response = seen
    assert request.startswith("REQUEST:\n[PUT]\thttp://whisk.test:3233/api/v1/namespaces/_/")
    assert "Basic ***" in request and GUEST not in request
    body = request.split("Req Body\n", 1)[1]
    assert len(body) == 1003 and body.endswith("...")
    assert "Got response with code 200" in response


@pytest.mark.anyio
async def test_async_client_matches_sync(fake: FakeWhisk) -> None:
    fake.on("POST", f"{NS}/actions/a", 200, {"activationId": "d4", "response": {"result": {}}})
    fake.on("PUT", f"{NS}/actions/a", 409, {"error": "resource already exists", "code": TID})
    fake.on("GET", "/api/v1", 200, {"build": "pwsk"})
    async with AsyncClient(FAKE_HOST, GUEST, transport=fake.transport()) as client:
        run = await client.invoke("a", blocking=True)
        assert run.succeeded and run.activation_id == "d4"
        assert (await client.info())["build"] == "pwsk"
        with pytest.raises(ClientError) as err:
            await client.put_action("a", {})
    assert err.value.status == 409
    assert json.loads(fake.requests[0].content) == {}


def test_sync_and_async_clients_offer_the_same_methods() -> None:
    import inspect

    def api(cls: type) -> dict[str, str]:
        return {
            name: str(inspect.signature(fn))
            for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in ("close", "aclose")
        }

    assert api(Client) == api(AsyncClient)


MGMT = "/api/v1/web/whisk.system/apimgmt"


def test_api_management_calls(fake: FakeWhisk) -> None:
    apis = [{"id": "API:guest:/b", "value": {"gwApiUrl": "u", "apidoc": {}}}]
    fake.on("POST", f"{MGMT}/createApi.http", 200, {"gwApiUrl": "u", "apidoc": {}})
    fake.on("GET", f"{MGMT}/getApi.http", 200, {"apis": apis})
    fake.on("DELETE", f"{MGMT}/deleteApi.http", 200, {})
    with client_for(fake, apigw_access_token="tok") as client:
        assert client.create_api({"namespace": "_"}, response_type="http")["gwApiUrl"] == "u"
        assert client.get_apis("/b", "/r", "GET") == apis
        assert client.get_apis(limit=5, skip=0) == apis
        assert client.delete_api("/b") is None
    create, get, listing, delete = fake.requests
    guid = GUEST.split(":")[0]
    assert dict(create.url.params) == {
        "responsetype": "http",
        "spaceguid": guid,
        "accesstoken": "tok",
    }
    assert json.loads(create.content) == {"apidoc": {"namespace": "_"}}
    assert dict(get.url.params) == {
        "basepath": "/b",
        "relpath": "/r",
        "operation": "GET",
        "spaceguid": guid,
        "accesstoken": "tok",
    }
    assert (listing.url.params["limit"], listing.url.params["skip"]) == ("5", "0")
    assert dict(delete.url.params) == {"basepath": "/b", "spaceguid": guid, "accesstoken": "tok"}


def test_api_list_must_be_a_list(fake: FakeWhisk) -> None:
    fake.on("GET", f"{MGMT}/getApi.http", 200, {"apis": "nope"})
    with client_for(fake) as client, pytest.raises(ClientError, match="not a list"):
        client.get_apis()


def test_download_is_under_the_host_without_the_key(fake: FakeWhisk) -> None:
    fake.answers[("GET", "/blackbox.tar.gz")] = lambda request: httpx.Response(200, content=b"tgz")
    with client_for(fake) as client:
        assert client.download("blackbox.tar.gz") == b"tgz"
    assert str(fake.last.url) == f"{FAKE_HOST}/blackbox.tar.gz"
    assert "authorization" not in fake.last.headers


def test_verbose_hides_the_key_in_bodies_too(fake: FakeWhisk) -> None:
    """A feed's ``authKey`` or an API's ``authkey`` never reaches the trace, nor passwords."""
    fake.on("POST", f"{NS}/actions/feed", 200, {"echo": GUEST, "password": "pw"})
    seen: list[str] = []
    token = base64.b64encode(GUEST.encode()).decode()
    with client_for(fake, verbose=seen.append, verbose_body_limit=None) as client:
        client.invoke("feed", {"authKey": GUEST, "x": "y" * 2000}, blocking=True)
    text = "\n".join(seen)
    assert GUEST not in text and GUEST.split(":")[1] not in text and token not in text
    assert '"authKey":"***"' in text and '"echo":"***"' in text
    assert '"password": "******"' in text and '"pw"' not in text


def test_truncation_never_leaves_part_of_the_key(fake: FakeWhisk) -> None:
    fake.on("PUT", f"{NS}/actions/a", 200, {})
    seen: list[str] = []
    with client_for(fake, verbose=seen.append) as client:
        # The key straddles the 1000-byte cut.
        client.put_action("a", {"pad": "x" * 980, "authKey": GUEST})
    assert GUEST[:20] not in seen[0]


def test_client_certificate_that_does_not_load(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="Unable to load the client certificate"):
        Client(FAKE_HOST, GUEST, cert=str(tmp_path / "none.pem"))
