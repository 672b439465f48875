"""API routes (wsk api): create, list as Swagger, call through /gw, delete."""

from __future__ import annotations

import httpx

from tests.api.helpers import ECHO, put_action
from tests.servers import Server

MGMT = "/api/v1/web/whisk.system/apimgmt"
WEB = [{"key": "web-export", "value": True}]


def create(api: httpx.Client, base: str, rel: str, verb: str, action: str,
           responsetype: str = "json") -> httpx.Response:
    body = {"apidoc": {"namespace": "_", "gatewayBasePath": base, "gatewayPath": rel,
                       "gatewayMethod": verb, "id": f"API:_:{base}",
                       "action": {"name": action, "namespace": "guest", "backendMethod": "GET",
                                  "backendUrl": "ignored", "authkey": "ignored"}}}
    return api.post(f"{MGMT}/createApi.http", params={"responsetype": responsetype}, json=body)


def test_route_lifecycle(server: Server, api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO, annotations=WEB)
    base = f"/{name}"
    r = create(api, base, "/items/{id}", "get", name)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["gwApiUrl"] == f"{server.url}/gw/guest{base}"
    assert created["apidoc"]["swagger"] == "2.0"
    assert "/items/{id}" in created["apidoc"]["paths"]
    call = httpx.get(f"{server.url}/gw/guest{base}/items/42?x=1")
    assert call.status_code == 200, call.text
    assert call.json()["id"] == "42" and call.json()["x"] == "1"
    assert httpx.post(f"{server.url}/gw/guest{base}/items/42").status_code == 404
    assert create(api, base, "/items", "post", name).status_code == 200
    posted = httpx.post(f"{server.url}/gw/guest{base}/items", json={"v": 1})
    assert posted.json()["v"] == 1 and posted.json()["__ow_method"] == "post"
    listed = api.get(f"{MGMT}/getApi.http", params={"basepath": base}).json()["apis"]
    assert len(listed) == 1
    assert set(listed[0]["value"]["apidoc"]["paths"]) == {"/items/{id}", "/items"}
    r = api.delete(f"{MGMT}/deleteApi.http", params={"basepath": base, "relpath": "/items",
                                                     "operation": "POST"})
    assert r.status_code == 200
    assert httpx.post(f"{server.url}/gw/guest{base}/items", json={}).status_code == 404
    assert api.delete(f"{MGMT}/deleteApi.http", params={"basepath": base}).status_code == 200
    assert httpx.get(f"{server.url}/gw/guest{base}/items/1").status_code == 404
    assert api.get(f"{MGMT}/getApi.http", params={"basepath": base}).json() == {"apis": []}


def test_http_response_type(server: Server, api: httpx.Client, name: str) -> None:
    put_action(api, name, "def main(a):\n    return {'body': 'hi', 'statusCode': 201}\n",
               annotations=WEB)
    assert create(api, f"/{name}", "/x", "GET", name, "http").status_code == 200
    r = httpx.get(f"{server.url}/gw/guest/{name}/x")
    assert r.status_code == 201 and r.text == "hi"


def test_create_needs_web_action_and_valid_input(api: httpx.Client, name: str) -> None:
    put_action(api, name, ECHO)
    r = create(api, f"/{name}", "/x", "GET", name)
    assert r.status_code == 400
    assert "is not a web action" in r.json()["error"]
    put_action(api, f"{name}-w", ECHO, annotations=WEB)
    assert create(api, f"/{name}", "x", "GET", f"{name}-w").status_code == 400
    assert create(api, f"/{name}", "/x", "FETCH", f"{name}-w").status_code == 400
    assert create(api, f"/{name}", "/x", "GET", f"{name}-w", "xml").status_code == 400
    assert api.delete(f"{MGMT}/deleteApi.http", params={"basepath": "/none"}).status_code == 404


def test_management_needs_auth(server: Server) -> None:
    assert httpx.get(f"{server.url}{MGMT}/getApi.http").status_code == 401


def test_swagger_parts_of_the_wrong_type_are_a_400(api: httpx.Client, name: str) -> None:
    # Found by the fuzzing: an 'info' list, or a null operation, was a 500.
    put_action(api, f"{name}-w", ECHO, annotations=WEB)
    operation = {"x-openwhisk": {"action": f"{name}-w", "namespace": "guest"}}
    for swagger, says in (
            ({"info": ["t"], "paths": {"/x": {"get": operation}}}, "info must be an object"),
            ({"paths": {"/x": {"get": None}}}, "no x-openwhisk action"),
            ({"paths": {"/x": {"get": []}}}, "must be an object")):
        r = api.post(f"{MGMT}/createApi.http", json={"apidoc": {
            "namespace": "_", "gatewayBasePath": f"/{name}", "swagger": swagger}})
        assert r.status_code == 400, (swagger, r.text)
        assert says in r.json()["error"], r.text
